/* SPDX-License-Identifier: Apache-2.0 */
/* Serial parsing and udev's by-id names: every vector in FACTS.md (most
 * checked against Debian's udev in a real boot), the UTF-8 rules, and the
 * hostile attribute contents a host can produce. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cocoinit/serial.h"
#include "cocoinit/util.h"
#include "tree.h"

/* Encodes s (len bytes) and checks the by-id name. */
static void check_enc(const char *s, size_t len, const char *want)
{
	char out[SERIAL_BYID_MAX];
	int r = serial_encode_byid(s, len, out, sizeof(out));

	if (r < 0)
		fail_msg("serial of %zu bytes: error %d, wanted %s", len, r, want);
	assert_string_equal(out, want);
	assert_int_equal(r, strlen(want));
}
#define ENC(lit, want) check_enc(lit, sizeof(lit) - 1, want)

static void check_nolink(const char *s, size_t len, int err)
{
	char out[SERIAL_BYID_MAX] = "untouched";

	assert_int_equal(serial_encode_byid(s, len, out, sizeof(out)), err);
}
#define NOLINK(lit, err) check_nolink(lit, sizeof(lit) - 1, err)

static void test_facts_table(void **state)
{
	ENC("abc  def ", "virtio-abc_def");
	ENC(" x", "virtio-x");
	ENC("a$b,c", "virtio-a_b_c");
	ENC("a\tb", "virtio-a_b");
	ENC("\xc3\xa9", "virtio-\xc3\xa9");
	ENC("\xff", "virtio-_");
	ENC("a\\b", "virtio-a_b");
	ENC("a\\xb", "virtio-a\\xb");
}

static void test_facts_real_boot(void **state)
{
	/* The names Debian's udev gave in a real boot (FACTS.md). */
	ENC("kata%init?x", "virtio-kata_init_x");
	ENC("\xc3\xa9t\xc3\xa9", "virtio-\xc3\xa9t\xc3\xa9");
	ENC("\xffz", "virtio-_z");
	ENC(" lead", "virtio-lead");
	ENC("\xc0\xafq", "virtio-__q");
	ENC("\xef\xbf\xbeq", "virtio-___q");
	ENC("tab\t\tend\t", "virtio-tab_end");
	ENC("\xe2\x82", "virtio-__");
	ENC("a  b  c", "virtio-a_b_c");
	ENC("a\x01" "b", "virtio-a_b");
	ENC("initdata", "virtio-initdata");
}

static void test_slash_directory(void **state)
{
	/* x/y: a directory virtio-x holding y; udev simplifies the path. */
	ENC("x/y", "virtio-x/y");
	ENC("x//y", "virtio-x/y");
	ENC("x/./y", "virtio-x/y");
	ENC("x/", "virtio-x");
	ENC("..", "virtio-..");
	ENC("a..b/c", "virtio-a..b/c");
	NOLINK("a/../b", -EINVAL);
	NOLINK("x/..", -EINVAL);
	NOLINK("/..", -EINVAL);
}

static void test_no_link(void **state)
{
	NOLINK("", -ENOENT);
	NOLINK(" ", -ENOENT);
	NOLINK(" \t\r\n ", -ENOENT);
	NOLINK("\0abc", -ENOENT);
	/* \v is whitespace to isspace() but not to udev's trailing strip: it
	 * survives as a space and is then dropped, leaving the bare prefix. */
	ENC("\v", "virtio-");
	ENC("a\vb", "virtio-a_b");
	ENC("a\f", "virtio-a");
}

static void test_nul_ends_serial(void **state)
{
	ENC("abc\0def", "virtio-abc");
	ENC("ab \0", "virtio-ab");
}

static void test_allowed_chars(void **state)
{
	ENC("#+-.:=@_", "virtio-#+-.:=@_");
	ENC("AZaz09", "virtio-AZaz09");
	ENC("a!b\"c'd(e)f*g;h<i>j[k]l{m}n|o~p`q&r^", "virtio-a_b_c_d_e_f_g_h_i_j_k_l_m_n_o_p_q_r_");
	ENC("a$%?,b", "virtio-a____b");
	ENC("\x7f", "virtio-_");
	ENC("\\", "virtio-_");
	ENC("\\\\x", "virtio-_\\x");
	ENC("\\x", "virtio-\\x");
	ENC("\\X", "virtio-_X");
}

static void test_utf8_rules(void **state)
{
	/* valid 2, 3 and 4 byte sequences are kept whole */
	ENC("\xc2\x80", "virtio-\xc2\x80");
	ENC("\xe2\x82\xac", "virtio-\xe2\x82\xac");
	ENC("\xf0\x9f\x98\x80", "virtio-\xf0\x9f\x98\x80");
	ENC("\xf4\x8f\xbf\xbd", "virtio-\xf4\x8f\xbf\xbd");   /* U+10FFFD */
	/* overlong forms */
	ENC("\xc1\xbf", "virtio-__");
	ENC("\xe0\x80\xaf", "virtio-___");
	ENC("\xf0\x80\x80\xaf", "virtio-____");
	/* surrogates */
	ENC("\xed\xa0\x80", "virtio-___");
	ENC("\xed\xbf\xbf", "virtio-___");
	ENC("\xed\x9f\xbf", "virtio-\xed\x9f\xbf");            /* U+D7FF is fine */
	/* non-characters U+FDD0..U+FDEF and U+xxFFFE/U+xxFFFF */
	ENC("\xef\xb7\x90", "virtio-___");
	ENC("\xef\xb7\xaf", "virtio-___");
	ENC("\xef\xb7\x8f", "virtio-\xef\xb7\x8f");            /* U+FDCF is fine */
	ENC("\xef\xb7\xb0", "virtio-\xef\xb7\xb0");            /* U+FDF0 is fine */
	ENC("\xef\xbf\xbf", "virtio-___");
	ENC("\xf0\x9f\xbf\xbe", "virtio-____");                /* U+1FFFE */
	ENC("\xf4\x8f\xbf\xbf", "virtio-____");                /* U+10FFFF */
	/* above U+10FFFF, and 5/6 byte forms */
	ENC("\xf4\x90\x80\x80", "virtio-____");
	ENC("\xf8\x88\x80\x80\x80", "virtio-_____");
	ENC("\xfc\x84\x80\x80\x80\x80", "virtio-______");
	/* cut-off sequences, also at the end of the serial */
	ENC("\xe2\x82z", "virtio-__z");
	ENC("\xf0\x9f\x98", "virtio-___");
	ENC("\xc3", "virtio-_");
	/* a lone continuation byte */
	ENC("\x80" "a", "virtio-_a");
	/* a whitespace byte inside a sequence breaks it */
	ENC("\xc3 \xa9", "virtio-___");
}

static void test_long_serials(void **state)
{
	char s[SERIAL_MAX + 10], want[SERIAL_BYID_MAX], out[SERIAL_BYID_MAX];

	memset(s, 'a', sizeof(s));
	memcpy(want, "virtio-", 7);
	memset(want + 7, 'a', SERIAL_MAX);
	want[7 + SERIAL_MAX] = '\0';
	/* bounded at SERIAL_MAX, never past the buffer */
	check_enc(s, sizeof(s), want);
	/* a buffer too small is refused, not overrun */
	assert_int_equal(serial_encode_byid("initdata", 8, out, 10), -ENOSPC);
}

static void test_parse_virtio(void **state)
{
	char out[SERIAL_MAX + 1];
	size_t len = 99;

	assert_int_equal(serial_parse_virtio((const uint8_t *)"initdata", 8, out, &len), 0);
	assert_int_equal(len, 8);
	assert_string_equal(out, "initdata");
	/* ends at the first NUL */
	assert_int_equal(serial_parse_virtio((const uint8_t *)"ab\0cd", 5, out, &len), 0);
	assert_int_equal(len, 2);
	/* never more than 20 bytes, as the kernel shows */
	assert_int_equal(serial_parse_virtio((const uint8_t *)"0123456789abcdefghijKLMN", 24, out, &len), 0);
	assert_int_equal(len, 20);
	assert_string_equal(out, "0123456789abcdefghij");
	/* raw bytes kept: spaces, 0xff, UTF-8 */
	assert_int_equal(serial_parse_virtio((const uint8_t *)" a \xff\xc3\xa9 ", 7, out, &len), 0);
	assert_int_equal(len, 7);
	assert_memory_equal(out, " a \xff\xc3\xa9 ", 7);
	len = 99;
	assert_int_equal(serial_parse_virtio((const uint8_t *)"", 0, out, &len), -ENODATA);
	assert_int_equal(serial_parse_virtio((const uint8_t *)"\0abc", 4, out, &len), -ENODATA);
	assert_int_equal(len, 99);
}

static void test_parse_nvme(void **state)
{
	char out[SERIAL_MAX + 1];
	size_t len;

	assert_int_equal(serial_parse_nvme((const uint8_t *)"initdata            \n", 21, out, &len), 0);
	assert_int_equal(len, 8);
	assert_string_equal(out, "initdata");
	/* leading spaces are part of the serial */
	assert_int_equal(serial_parse_nvme((const uint8_t *)"  SN1 \n", 7, out, &len), 0);
	assert_string_equal(out, "  SN1");
	assert_int_equal(serial_parse_nvme((const uint8_t *)"                    \n", 21, out, &len),
			 -ENODATA);
	assert_int_equal(serial_parse_nvme((const uint8_t *)"\n", 1, out, &len), -ENODATA);
}

static void test_parse_vpd(void **state)
{
	char out[SERIAL_MAX + 1];
	size_t len = 99;

	assert_int_equal(serial_parse_vpd_pg80((const uint8_t *)"\x00\x80\x00\x08initdata", 12, out, &len), 0);
	assert_int_equal(len, 8);
	assert_string_equal(out, "initdata");
	/* padding on either side is not part of the serial */
	assert_int_equal(serial_parse_vpd_pg80((const uint8_t *)"\x00\x80\x00\x0c  initdata\0 ", 16, out, &len), 0);
	assert_string_equal(out, "initdata");
	/* a length longer than what was read: bounded by the bytes present */
	assert_int_equal(serial_parse_vpd_pg80((const uint8_t *)"\x00\x80\x00\x40initdata", 12, out, &len), 0);
	assert_int_equal(len, 8);
	assert_int_equal(serial_parse_vpd_pg80((const uint8_t *)"\x00\x80\xff\xffserial", 10, out, &len), 0);
	assert_string_equal(out, "serial");
	/* a length shorter than the page: the rest is not serial */
	assert_int_equal(serial_parse_vpd_pg80((const uint8_t *)"\x00\x80\x00\x04initdata", 12, out, &len), 0);
	assert_string_equal(out, "init");
	len = 99;
	/* zero length, all padding, wrong page, short header */
	assert_int_equal(serial_parse_vpd_pg80((const uint8_t *)"\x00\x80\x00\x00initdata", 12, out, &len), -ENODATA);
	assert_int_equal(serial_parse_vpd_pg80((const uint8_t *)"\x00\x80\x00\x03   ", 7, out, &len), -ENODATA);
	assert_int_equal(serial_parse_vpd_pg80((const uint8_t *)"\x00\x83\x00\x08initdata", 12, out, &len), -EBADMSG);
	assert_int_equal(serial_parse_vpd_pg80((const uint8_t *)"\x00\x80\x00", 3, out, &len), -EBADMSG);
	assert_int_equal(serial_parse_vpd_pg80((const uint8_t *)"", 0, out, &len), -EBADMSG);
	assert_int_equal(len, 99);
}

static void test_parse_vpd_too_long(void **state)
{
	uint8_t raw[4 + SERIAL_MAX + 1];
	char out[SERIAL_MAX + 1];
	size_t len;

	raw[0] = 0;
	raw[1] = 0x80;
	raw[2] = 0xff;
	raw[3] = 0xff;
	memset(raw + 4, 'x', sizeof(raw) - 4);
	assert_int_equal(serial_parse_vpd_pg80(raw, sizeof(raw), out, &len), -EBADMSG);
	assert_int_equal(serial_parse_vpd_pg80(raw, sizeof(raw) - 1, out, &len), 0);
	assert_int_equal(len, SERIAL_MAX);
}

static void test_matches(void **state)
{
	const char *longs = "image-0123456789abcdef"; /* 22 bytes, runtime-rs style */

	assert_true(serial_matches("initdata", 8, "initdata", 8, SERIAL_KIND_VIRTIO));
	assert_false(serial_matches("initdata", 8, "initdat", 7, SERIAL_KIND_VIRTIO));
	assert_false(serial_matches("initdata", 8, "initdatb", 8, SERIAL_KIND_VIRTIO));
	assert_false(serial_matches("initdat", 7, "initdata", 8, SERIAL_KIND_VIRTIO));
	/* virtio-blk shows 20 bytes: a longer configured serial matches on those */
	assert_true(serial_matches(longs, 22, longs, 20, SERIAL_KIND_VIRTIO));
	assert_false(serial_matches(longs, 22, longs, 19, SERIAL_KIND_VIRTIO));
	/* NVMe and SCSI carry the whole serial */
	assert_false(serial_matches(longs, 22, longs, 20, SERIAL_KIND_NVME));
	assert_true(serial_matches(longs, 22, longs, 22, SERIAL_KIND_SCSI));
	/* raw bytes, not udev names: "a b" is not "a\tb" though both are virtio-a_b */
	assert_false(serial_matches("a b", 3, "a\tb", 3, SERIAL_KIND_VIRTIO));
}

static void test_read_kinds(void **state)
{
	char *root = tree_from_manifest("disk vdb serial=initdata\n"
					"disk nvme0n1 serial=nvme-sn\n"
					"disk sda serial=\\s\\sscsi\\s\n"
					"disk vdc serial=\n"
					"disk vdd\n"
					"disk vde serial=0123456789abcdefghijKLMN\n");
	char out[SERIAL_MAX + 1];
	enum serial_kind kind;
	size_t len;
	int sysfd;

	assert_non_null(root);
	int rootfd = tree_open(root);
	sysfd = openat(rootfd, "sys/class/block", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(sysfd >= 0);

	assert_int_equal(serial_read(sysfd, "vdb", out, &len, &kind), 0);
	assert_string_equal(out, "initdata");
	assert_int_equal(kind, SERIAL_KIND_VIRTIO);
	assert_int_equal(serial_read(sysfd, "nvme0n1", out, &len, &kind), 0);
	assert_string_equal(out, "nvme-sn");
	assert_int_equal(kind, SERIAL_KIND_NVME);
	assert_int_equal(serial_read(sysfd, "sda", out, &len, &kind), 0);
	assert_string_equal(out, "scsi");
	assert_int_equal(kind, SERIAL_KIND_SCSI);
	assert_int_equal(serial_read(sysfd, "vdc", out, &len, &kind), -ENODATA);
	assert_int_equal(serial_read(sysfd, "vdd", out, &len, &kind), -ENOENT);
	assert_int_equal(serial_read(sysfd, "vdz", out, &len, &kind), -ENOENT);
	assert_int_equal(serial_read(sysfd, "vde", out, &len, &kind), 0);
	assert_int_equal(len, 20);
	assert_int_equal(serial_read(sysfd, "../x", out, &len, &kind), -EINVAL);
	close(sysfd);
	close(rootfd);
	tree_remove(root);
}

static void test_read_symlinked_serial(void **state)
{
	/* A serial attribute that is a symlink is not a kernel attribute. */
	char *root = tree_from_manifest("disk vdb\n"
					"file etc/secret initdata\n"
					"link sys/class/block/vdb/serial ../../../../../../../../etc/secret\n");
	char out[SERIAL_MAX + 1];
	enum serial_kind kind;
	size_t len;

	assert_non_null(root);
	int rootfd = tree_open(root);
	int sysfd = openat(rootfd, "sys/class/block", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(serial_read(sysfd, "vdb", out, &len, &kind), -ELOOP);
	close(sysfd);
	close(rootfd);
	tree_remove(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_facts_table),
		cmocka_unit_test(test_facts_real_boot),
		cmocka_unit_test(test_slash_directory),
		cmocka_unit_test(test_no_link),
		cmocka_unit_test(test_nul_ends_serial),
		cmocka_unit_test(test_allowed_chars),
		cmocka_unit_test(test_utf8_rules),
		cmocka_unit_test(test_long_serials),
		cmocka_unit_test(test_parse_virtio),
		cmocka_unit_test(test_parse_nvme),
		cmocka_unit_test(test_parse_vpd),
		cmocka_unit_test(test_parse_vpd_too_long),
		cmocka_unit_test(test_matches),
		cmocka_unit_test(test_read_kinds),
		cmocka_unit_test(test_read_symlinked_serial),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
