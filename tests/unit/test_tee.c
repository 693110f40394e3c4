/* SPDX-License-Identifier: Apache-2.0 */
/* The TEE launch value behind its seam: sys_ioctl is wrapped (-Wl,--wrap)
 * to answer SNP_GET_REPORT with a real SNP report (tests/fixtures, with the
 * HOST_DATA this test writes into a copy) and TDX_CMD_GET_REPORT0 with
 * TDREPORTs laid out as the TDX module does, built here; configfs-tsm is a
 * directory tree with the kernel's file names. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/sev-guest.h>

#include "cocoinit/digest.h"
#include "cocoinit/sys.h"
#include "cocoinit/tee.h"
#include "cocoinit/util.h"
#include "fixture.h"

#define TDX_GET_REPORT0 _IOWR('T', 1, uint8_t[64 + 1024]) /* linux/tdx-guest.h */

static const char DOC[] = "version = \"0.1.0\"\nalgorithm = \"sha384\"\n[data]\n";

/* What the wrapped ioctl answers. */
static struct {
	int calls;
	int fail;           /* -errno to return */
	uint32_t fw_status; /* SNP response status */
	uint32_t size;      /* SNP response report size */
	uint8_t snp[TEE_SNP_REPORT_SIZE];
	uint8_t tdx[TEE_TDX_REPORT_SIZE];
	unsigned long request;
} dev;

static uint8_t milan[TEE_SNP_REPORT_SIZE];
static int rootfd = -1;

int __wrap_sys_ioctl(int fd, unsigned long request, void *arg);
int __wrap_sys_ioctl(int fd, unsigned long request, void *arg)
{
	dev.calls++;
	dev.request = request;
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	if (request == SNP_GET_REPORT) {
		struct snp_guest_request_ioctl *io = arg;
		struct snp_report_req *req = (void *)(uintptr_t)io->req_data;
		struct snp_report_resp *resp = (void *)(uintptr_t)io->resp_data;

		assert_int_equal(io->msg_version, 1);
		assert_int_equal(req->vmpl, 0);
		if (dev.fail) {
			io->fw_error = 0x16;
			return dev.fail;
		}
		memset(resp->data, 0, sizeof(resp->data));
		memcpy(resp->data, &dev.fw_status, 4); /* little-endian machine */
		memcpy(resp->data + 4, &dev.size, 4);
		memcpy(resp->data + 0x20, dev.snp, sizeof(dev.snp));
		return 0;
	}
	if (request == TDX_GET_REPORT0) {
		uint8_t *req = arg;

		if (dev.fail)
			return dev.fail;
		memcpy(req + 64, dev.tdx, sizeof(dev.tdx));
		return 0;
	}
	return -ENOTTY;
}

static void touch(const char *rel, const void *data, size_t len)
{
	int fd = openat(rootfd, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(util_write_all(fd, data, len), 0);
	close(fd);
}

static int setup(void **state)
{
	ssize_t n = util_read_file_at(AT_FDCWD, FIXTURES "/snp-report-milan.bin", milan, sizeof(milan) + 1, true);

	assert_int_equal(n, TEE_SNP_REPORT_SIZE);
	fixture_dir_create("tee");
	return 0;
}

static int teardown(void **state)
{
	return fixture_dir_remove();
}

/* A fresh empty root per test, and a device that answers with the real report. */
static int per_test(void **state)
{
	static unsigned n;
	char name[32];

	snprintf(name, sizeof(name), "root%u", n++);
	assert_int_equal(mkdir(fixture_path(name), 0755), 0);
	rootfd = open(fixture_path(name), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(rootfd >= 0);
	assert_int_equal(mkdirat(rootfd, "dev", 0755), 0);
	memset(&dev, 0, sizeof(dev));
	memcpy(dev.snp, milan, sizeof(milan));
	dev.size = TEE_SNP_REPORT_SIZE;
	return 0;
}

static int per_test_end(void **state)
{
	close(rootfd);
	return 0;
}

/* The fixture is the report its README describes. */
static void test_fixture_fields(void **state)
{
	static const uint8_t measurement_head[] = { 0xb0, 0x7a, 0xf9, 0x62, 0x0f, 0x3b, 0x83, 0x9b };
	uint8_t host[32], zero[32] = { 0 };

	assert_int_equal(milan[0], 2); /* version */
	assert_memory_equal(milan + 0x50, "\x01\x02\x03\x04\x05", 5);
	assert_memory_equal(milan + 0x90, measurement_head, sizeof(measurement_head));
	assert_int_equal(tee_snp_host_data(milan, sizeof(milan), host), 0);
	assert_memory_equal(host, zero, 32);
	assert_int_equal(tee_snp_host_data(milan, sizeof(milan) - 1, host), -EBADMSG);
}

static void test_no_tee(void **state)
{
	struct tee_launch l = { .platform = TEE_TDX };
	char err[256];

	assert_int_equal(tee_read_launch(rootfd, &l, err, sizeof(err)), -ENODEV);
	assert_int_equal(l.platform, TEE_TDX); /* untouched */
	assert_int_equal(dev.calls, 0);
}

/* The real report with HOST_DATA = the digest adjusted to 32 bytes: bound.
 * With another document's digest: not bound. */
static void test_snp_binding(void **state)
{
	enum digest_alg algs[] = { DIGEST_SHA256, DIGEST_SHA384, DIGEST_SHA512 };
	struct tee_launch l;
	uint8_t d[DIGEST_MAX], other[DIGEST_MAX];
	char err[256];

	touch("dev/sev-guest", "", 0);
	for (size_t i = 0; i < 3; i++) {
		digest_buf(algs[i], DOC, strlen(DOC), d);
		memcpy(dev.snp, milan, sizeof(milan));
		memcpy(dev.snp + TEE_SNP_HOST_DATA, d, 32); /* what the host's launch tool sets */
		assert_int_equal(tee_read_launch(rootfd, &l, err, sizeof(err)), 0);
		assert_int_equal(dev.request, SNP_GET_REPORT);
		assert_int_equal(l.platform, TEE_SNP);
		assert_int_equal(l.len, 32);
		assert_string_equal(l.source, "dev/sev-guest");
		assert_string_equal(tee_platform_name(l.platform), "snp");
		assert_int_equal(tee_check(&l, d, digest_len(algs[i])), 0);
		digest_buf(algs[i], "version = \"0.1.0\"\n", 18, other);
		assert_int_equal(tee_check(&l, other, digest_len(algs[i])), -EPERM);
	}
	/* The unmodified report: HOST_DATA all zero binds no document. */
	memcpy(dev.snp, milan, sizeof(milan));
	assert_int_equal(tee_read_launch(rootfd, &l, err, sizeof(err)), 0);
	digest_buf(DIGEST_SHA256, DOC, strlen(DOC), d);
	assert_int_equal(tee_check(&l, d, 32), -EPERM);
	/* One flipped bit in the last byte of HOST_DATA. */
	memcpy(dev.snp + TEE_SNP_HOST_DATA, d, 32);
	dev.snp[TEE_SNP_HOST_DATA + 31] ^= 1;
	assert_int_equal(tee_read_launch(rootfd, &l, err, sizeof(err)), 0);
	assert_int_equal(tee_check(&l, d, 32), -EPERM);
}

static void test_snp_errors(void **state)
{
	struct tee_launch l = { .platform = TEE_NONE };
	char err[256] = "";

	touch("dev/sev-guest", "", 0);
	dev.fail = -EIO;
	assert_int_equal(tee_read_launch(rootfd, &l, err, sizeof(err)), -EIO);
	assert_string_equal(err, "SNP_GET_REPORT: Input/output error (firmware error 0x16, vmm error 0x0)");
	dev.fail = 0;
	dev.fw_status = 0x16;
	assert_int_equal(tee_read_launch(rootfd, &l, err, sizeof(err)), -EIO);
	assert_string_equal(err, "SNP_GET_REPORT: firmware status 0x16");
	dev.fw_status = 0;
	dev.size = 0xE0;
	assert_int_equal(tee_read_launch(rootfd, &l, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "SNP_GET_REPORT: report size 224, want at least 1184");
	dev.size = 0xffffffff;
	assert_int_equal(tee_read_launch(rootfd, &l, err, sizeof(err)), -EBADMSG);
	assert_int_equal(l.platform, TEE_NONE);
	/* A device node that can't be opened is an error, not "no TEE". */
	assert_int_equal(unlinkat(rootfd, "dev/sev-guest", 0), 0);
	assert_int_equal(mkdirat(rootfd, "dev/sev-guest", 0755), 0);
	assert_int_equal(tee_read_launch(rootfd, &l, err, sizeof(err)), -EISDIR);
	assert_string_equal(err, "dev/sev-guest: Is a directory");
}

/* A TDREPORT as the TDX module lays it out: REPORTMACSTRUCT (256),
 * TEE_TCB_INFO (239), reserved (17), then TDINFO at 512: ATTRIBUTES (8),
 * XFAM (8), MRTD (48) at 528, MRCONFIGID (48) at 576, MROWNER (48) at 624,
 * MROWNERCONFIG (48), RTMR0-3 (4 x 48), SERVTD_HASH (48), reserved. */
static void make_tdreport(uint8_t *r, const uint8_t *mrconfigid)
{
	for (size_t i = 0; i < TEE_TDX_REPORT_SIZE; i++)
		r[i] = (uint8_t)(0x5a ^ i);
	r[0] = 0x81; /* REPORTTYPE.TYPE = TDX */
	memset(r + 528, 0x11, 48);  /* MRTD */
	memcpy(r + 576, mrconfigid, 48);
	memset(r + 624, 0x22, 48);  /* MROWNER */
}

static void test_tdx_binding(void **state)
{
	struct tee_launch l;
	uint8_t d[DIGEST_MAX], v[48];
	char err[256];

	touch("dev/tdx_guest", "", 0);
	/* sha384: MRCONFIGID is the digest itself. */
	digest_buf(DIGEST_SHA384, DOC, strlen(DOC), d);
	make_tdreport(dev.tdx, d);
	assert_int_equal(tee_read_launch(rootfd, &l, err, sizeof(err)), 0);
	assert_int_equal(dev.request, TDX_GET_REPORT0);
	assert_int_equal(l.platform, TEE_TDX);
	assert_int_equal(l.len, 48);
	assert_string_equal(tee_platform_name(l.platform), "tdx");
	assert_int_equal(tee_check(&l, d, 48), 0);
	/* MRTD or MROWNER holding the digest instead: not bound. */
	memset(v, 0, sizeof(v));
	make_tdreport(dev.tdx, v);
	memcpy(dev.tdx + 528, d, 48);
	memcpy(dev.tdx + 624, d, 48);
	assert_int_equal(tee_read_launch(rootfd, &l, err, sizeof(err)), 0);
	assert_int_equal(tee_check(&l, d, 48), -EPERM);
	/* sha256: zero-padded to 48. */
	digest_buf(DIGEST_SHA256, DOC, strlen(DOC), d);
	digest_adjust(d, 32, v, 48);
	make_tdreport(dev.tdx, v);
	assert_int_equal(tee_read_launch(rootfd, &l, err, sizeof(err)), 0);
	assert_int_equal(tee_check(&l, d, 32), 0);
	/* ... and padding that is not zero is not the padding Kata writes. */
	dev.tdx[576 + 47] = 1;
	assert_int_equal(tee_read_launch(rootfd, &l, err, sizeof(err)), 0);
	assert_int_equal(tee_check(&l, d, 32), -EPERM);
	/* sha512: truncated to 48. */
	digest_buf(DIGEST_SHA512, DOC, strlen(DOC), d);
	make_tdreport(dev.tdx, d);
	assert_int_equal(tee_read_launch(rootfd, &l, err, sizeof(err)), 0);
	assert_int_equal(tee_check(&l, d, 64), 0);
	/* The ioctl failing. */
	dev.fail = -EINVAL;
	assert_int_equal(tee_read_launch(rootfd, &l, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "TDX_CMD_GET_REPORT0: Invalid argument");
}

/* configfs-tsm with the SNP provider: outblob is the raw report. */
static void test_tsm_snp(void **state)
{
	struct tee_launch l;
	uint8_t d[DIGEST_MAX], in[128];
	char err[256];

	assert_int_equal(mkdirat(rootfd, "sys", 0755), 0);
	assert_int_equal(mkdirat(rootfd, "sys/kernel", 0755), 0);
	assert_int_equal(mkdirat(rootfd, "sys/kernel/config", 0755), 0);
	assert_int_equal(mkdirat(rootfd, "sys/kernel/config/tsm", 0755), 0);
	assert_int_equal(mkdirat(rootfd, "sys/kernel/config/tsm/report", 0755), 0);
	/* configfs makes these files when the directory is created; here they
	 * are there before. */
	assert_int_equal(mkdirat(rootfd, "sys/kernel/config/tsm/report/cocoinit-initdata", 0700), 0);
	touch("sys/kernel/config/tsm/report/cocoinit-initdata/provider", "sev_guest\n", 10);
	touch("sys/kernel/config/tsm/report/cocoinit-initdata/inblob", "", 0);
	digest_buf(DIGEST_SHA256, DOC, strlen(DOC), d);
	memcpy(dev.snp, milan, sizeof(milan));
	memcpy(dev.snp + TEE_SNP_HOST_DATA, d, 32);
	touch("sys/kernel/config/tsm/report/cocoinit-initdata/outblob", dev.snp, sizeof(dev.snp));

	assert_int_equal(tee_read_launch(rootfd, &l, err, sizeof(err)), 0);
	assert_int_equal(dev.calls, 0);
	assert_int_equal(l.platform, TEE_SNP);
	assert_string_equal(l.source, "configfs-tsm");
	assert_int_equal(tee_check(&l, d, 32), 0);
	/* 64 bytes of report data were written to make the report. */
	assert_int_equal(util_read_file_at(rootfd, "sys/kernel/config/tsm/report/cocoinit-initdata/inblob", in,
					   sizeof(in), false),
			 64);

	/* A short outblob is refused. */
	touch("sys/kernel/config/tsm/report/cocoinit-initdata/outblob", dev.snp, 1000);
	assert_int_equal(tee_read_launch(rootfd, &l, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "configfs-tsm: outblob is 1000 bytes, want at least 1184");
	/* The TDX provider's outblob is a Quote: not read. */
	touch("sys/kernel/config/tsm/report/cocoinit-initdata/provider", "tdx_guest\n", 10);
	assert_int_equal(tee_read_launch(rootfd, &l, err, sizeof(err)), -ENOTSUP);
	assert_string_equal(err, "configfs-tsm: provider \"tdx_guest\" is not supported (only sev_guest)");
	/* The device wins over configfs. */
	touch("dev/sev-guest", "", 0);
	assert_int_equal(tee_read_launch(rootfd, &l, err, sizeof(err)), 0);
	assert_string_equal(l.source, "dev/sev-guest");
}

/* The whole answer the boot acts on: bound, not bound (with both values,
 * so an operator can see which side is wrong), no TEE, unreadable. */
static void test_bind(void **state)
{
	struct tee_launch l = { .platform = TEE_NONE };
	uint8_t d[DIGEST_MAX], v[DIGEST_MAX];
	char err[512] = "", hex[DIGEST_HEX_SIZE], want[512];

	digest_buf(DIGEST_SHA512, DOC, strlen(DOC), d);
	assert_int_equal(tee_bind(rootfd, d, 64, &l, err, sizeof(err)), -ENODEV);
	assert_int_equal(l.platform, TEE_NONE);

	touch("dev/sev-guest", "", 0);
	memcpy(dev.snp + TEE_SNP_HOST_DATA, d, 32);
	assert_int_equal(tee_bind(rootfd, d, 64, &l, err, sizeof(err)), 0);
	assert_int_equal(l.platform, TEE_SNP);
	/* The real report as it is: HOST_DATA all zero. */
	memcpy(dev.snp, milan, sizeof(milan));
	l.platform = TEE_NONE;
	assert_int_equal(tee_bind(rootfd, d, 64, &l, err, sizeof(err)), -EPERM);
	assert_int_equal(l.platform, TEE_NONE);
	snprintf(want, sizeof(want), "snp HOST_DATA=%064d, the digest adjusted to 32 bytes is %s", 0,
		 digest_hex(hex, d, 32));
	assert_string_equal(err, want);
	dev.fail = -EIO;
	assert_int_equal(tee_bind(rootfd, d, 64, &l, err, sizeof(err)), -EIO);
	assert_string_equal(err, "SNP_GET_REPORT: Input/output error (firmware error 0x16, vmm error 0x0)");

	/* TDX, a sha256 digest against an MRCONFIGID of another document. */
	assert_int_equal(unlinkat(rootfd, "dev/sev-guest", 0), 0);
	touch("dev/tdx_guest", "", 0);
	dev.fail = 0;
	digest_buf(DIGEST_SHA256, "x", 1, v);
	memset(v + 32, 0, 16);
	make_tdreport(dev.tdx, v);
	digest_buf(DIGEST_SHA256, DOC, strlen(DOC), d);
	assert_int_equal(tee_bind(rootfd, d, 32, &l, err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want), "tdx MRCONFIGID=%s", digest_hex(hex, v, 48));
	assert_memory_equal(err, want, strlen(want));
	assert_non_null(strstr(err, ", the digest adjusted to 48 bytes is "));
	assert_string_equal(tee_field_name(TEE_TDX), "MRCONFIGID");
}

/* The launch value read ahead (the rehearsal's child reads it while the
 * modules load), bound later: the same answers as tee_bind() reading it then. */
static void test_bind_launch_read_ahead(void **state)
{
	struct tee_launch l = { .platform = TEE_NONE }, none = { .platform = TEE_NONE };
	uint8_t d[DIGEST_MAX];
	char err[512] = "", err2[512] = "";

	digest_buf(DIGEST_SHA384, DOC, strlen(DOC), d);
	touch("dev/sev-guest", "", 0);
	dev.fail = 0;
	memcpy(dev.snp, milan, sizeof(milan));
	memcpy(dev.snp + TEE_SNP_HOST_DATA, d, 32);
	assert_int_equal(tee_read_launch(rootfd, &l, err, sizeof(err)), 0);
	assert_int_equal(tee_bind_launch(&l, d, 48, err, sizeof(err)), 0);
	/* another document: refused with both values, as tee_bind() says it */
	digest_buf(DIGEST_SHA384, "other", 5, d);
	assert_int_equal(tee_bind_launch(&l, d, 48, err, sizeof(err)), -EPERM);
	assert_int_equal(tee_bind(rootfd, d, 48, &l, err2, sizeof(err2)), -EPERM);
	assert_string_equal(err, err2);
	assert_non_null(strstr(err, "snp HOST_DATA="));
	/* a launch value of no length is no binding */
	assert_int_equal(tee_bind_launch(&none, d, 48, err, sizeof(err)), -EINVAL);
	assert_int_equal(unlinkat(rootfd, "dev/sev-guest", 0), 0);
}

static void test_check_lengths(void **state)
{
	struct tee_launch none = { .platform = TEE_NONE, .len = 0 };
	uint8_t d[DIGEST_MAX] = { 0 };

	assert_int_equal(tee_check(&none, d, 32), -EINVAL);
	assert_int_equal(tee_launch_len(TEE_SNP), 32);
	assert_int_equal(tee_launch_len(TEE_TDX), 48);
	assert_int_equal(tee_launch_len(TEE_NONE), 0);
	assert_string_equal(tee_platform_name(TEE_NONE), "none");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fixture_fields, per_test, per_test_end),
		cmocka_unit_test_setup_teardown(test_no_tee, per_test, per_test_end),
		cmocka_unit_test_setup_teardown(test_snp_binding, per_test, per_test_end),
		cmocka_unit_test_setup_teardown(test_snp_errors, per_test, per_test_end),
		cmocka_unit_test_setup_teardown(test_tdx_binding, per_test, per_test_end),
		cmocka_unit_test_setup_teardown(test_tsm_snp, per_test, per_test_end),
		cmocka_unit_test_setup_teardown(test_bind, per_test, per_test_end),
		cmocka_unit_test_setup_teardown(test_bind_launch_read_ahead, per_test, per_test_end),
		cmocka_unit_test_setup_teardown(test_check_lengths, per_test, per_test_end),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
