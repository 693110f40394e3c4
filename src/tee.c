/* SPDX-License-Identifier: Apache-2.0 */
/* Reading the TEE's launch value (SNP HOST_DATA, TDX MRCONFIGID) and
 * comparing it with the initdata digest. Only reads: it never writes a
 * report into the guest, and it does not verify the report's signature
 * (the remote verifier does). The ioctls go through sys_ioctl(). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/sev-guest.h>

#include "cocoinit/digest.h"
#include "cocoinit/sys.h"
#include "cocoinit/tee.h"
#include "cocoinit/util.h"

/* linux/tdx-guest.h (Linux 6.2+; Debian 12's headers predate it). */
struct tee_tdx_report_req {
	uint8_t reportdata[64];
	uint8_t tdreport[TEE_TDX_REPORT_SIZE];
};
#define TEE_TDX_CMD_GET_REPORT0 _IOWR('T', 1, struct tee_tdx_report_req)

/* The firmware's MSG_REPORT_RSP (SEV-SNP ABI): status, report size, then
 * the report at 0x20. */
#define SNP_RSP_STATUS 0x00
#define SNP_RSP_SIZE 0x04
#define SNP_RSP_REPORT 0x20

#define TSM_DIR "sys/kernel/config/tsm/report"
#define TSM_ENTRY "cocoinit-initdata"

const char *tee_platform_name(enum tee_platform p)
{
	return p == TEE_SNP ? "snp" : p == TEE_TDX ? "tdx" : "none";
}

size_t tee_launch_len(enum tee_platform p)
{
	return p == TEE_SNP ? 32 : p == TEE_TDX ? 48 : 0;
}

int tee_snp_host_data(const uint8_t *report, size_t len, uint8_t out[32])
{
	if (!report || len < TEE_SNP_REPORT_SIZE)
		return -EBADMSG;
	memcpy(out, report + TEE_SNP_HOST_DATA, 32);
	return 0;
}

int tee_tdx_mrconfigid(const uint8_t *tdreport, size_t len, uint8_t out[48])
{
	if (!tdreport || len < TEE_TDX_REPORT_SIZE)
		return -EBADMSG;
	memcpy(out, tdreport + TEE_TDX_MRCONFIGID, 48);
	return 0;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int tee_snp_ioctl(int fd, struct tee_launch *ret, char *err, size_t errsz)
{
	struct snp_report_req req = { .vmpl = 0 };
	struct snp_report_resp resp;
	struct snp_guest_request_ioctl io = {
		.msg_version = 1,
		.req_data = (uint64_t)(uintptr_t)&req,
		.resp_data = (uint64_t)(uintptr_t)&resp,
	};
	uint32_t status, size;
	int r;

	memset(&resp, 0, sizeof(resp));
	r = sys_ioctl(fd, SNP_GET_REPORT, &io);
	if (r < 0) {
		util_seterr(err, errsz, "SNP_GET_REPORT: %s (firmware error 0x%x, vmm error 0x%x)", strerror(-r),
			    io.fw_error, io.vmm_error);
		return r;
	}
	status = le32(resp.data + SNP_RSP_STATUS);
	size = le32(resp.data + SNP_RSP_SIZE);
	if (status != 0) {
		util_seterr(err, errsz, "SNP_GET_REPORT: firmware status 0x%x", status);
		return -EIO;
	}
	if (size < TEE_SNP_REPORT_SIZE || size > sizeof(resp.data) - SNP_RSP_REPORT) {
		util_seterr(err, errsz, "SNP_GET_REPORT: report size %u, want at least %d", size, TEE_SNP_REPORT_SIZE);
		return -EBADMSG;
	}
	(void)tee_snp_host_data(resp.data + SNP_RSP_REPORT, size, ret->value);
	ret->platform = TEE_SNP;
	ret->len = 32;
	ret->source = "dev/sev-guest";
	return 0;
}

static int tee_tdx_ioctl(int fd, struct tee_launch *ret, char *err, size_t errsz)
{
	struct tee_tdx_report_req req;
	int r;

	memset(&req, 0, sizeof(req));
	r = sys_ioctl(fd, TEE_TDX_CMD_GET_REPORT0, &req);
	if (r < 0) {
		util_seterr(err, errsz, "TDX_CMD_GET_REPORT0: %s", strerror(-r));
		return r;
	}
	(void)tee_tdx_mrconfigid(req.tdreport, sizeof(req.tdreport), ret->value);
	ret->platform = TEE_TDX;
	ret->len = 48;
	ret->source = "dev/tdx_guest";
	return 0;
}

/* configfs-tsm (Linux 6.7+): a report entry is a directory we create; the
 * kernel makes the report when outblob is read after inblob is written.
 * Only the SNP provider: its outblob is the raw report. A TDX outblob is a
 * Quote, not a TDREPORT, and /dev/tdx_guest exists wherever it does. */
static int tee_tsm(int rootfd, struct tee_launch *ret, char *err, size_t errsz)
{
	_cleanup_close_ int dir = -1, entry = -1, in = -1;
	static const uint8_t nonce[64];
	uint8_t blob[4096];
	char provider[32];
	ssize_t n;
	int r;

	dir = openat(rootfd, TSM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return -ENODEV;
	if (mkdirat(dir, TSM_ENTRY, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		util_seterr(err, errsz, "configfs-tsm: mkdir %s/%s: %s", TSM_DIR, TSM_ENTRY, strerror(-r));
		return r;
	}
	entry = openat(dir, TSM_ENTRY, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (entry < 0) {
		r = -errno;
		goto fail;
	}
	n = util_read_file_at(entry, "provider", provider, sizeof(provider) - 1, false);
	if (n < 0) {
		r = (int)n;
		goto fail;
	}
	provider[n] = '\0';
	provider[strcspn(provider, "\n")] = '\0';
	if (strcmp(provider, "sev_guest") != 0) {
		util_seterr(err, errsz, "configfs-tsm: provider \"%.16s\" is not supported (only sev_guest)", provider);
		r = -ENOTSUP;
		goto out;
	}
	in = openat(entry, "inblob", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	r = in < 0 ? -errno : util_write_all(in, nonce, sizeof(nonce));
	if (r < 0)
		goto fail;
	n = util_read_file_at(entry, "outblob", blob, sizeof(blob), false);
	if (n < 0) {
		r = (int)n;
		goto fail;
	}
	if (tee_snp_host_data(blob, (size_t)n, ret->value) < 0) {
		util_seterr(err, errsz, "configfs-tsm: outblob is %zd bytes, want at least %d", n, TEE_SNP_REPORT_SIZE);
		r = -EBADMSG;
		goto out;
	}
	ret->platform = TEE_SNP;
	ret->len = 32;
	ret->source = "configfs-tsm";
	r = 0;
	goto out;
fail:
	util_seterr(err, errsz, "configfs-tsm: %s", strerror(-r));
out:
	(void)unlinkat(dir, TSM_ENTRY, AT_REMOVEDIR);
	return r;
}

int tee_read_launch(int rootfd, struct tee_launch *ret, char *err, size_t errsz)
{
	static const struct {
		const char *path;
		int (*read)(int fd, struct tee_launch *ret, char *err, size_t errsz);
	} devs[] = {
		{ "dev/sev-guest", tee_snp_ioctl },
		{ "dev/tdx_guest", tee_tdx_ioctl },
	};
	struct tee_launch l = { .platform = TEE_NONE };
	int r;

	if (err && errsz)
		err[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(devs); i++) {
		_cleanup_close_ int fd = openat(rootfd, devs[i].path, O_RDWR | O_CLOEXEC | O_NOCTTY);

		if (fd < 0 && errno == ENOENT)
			continue;
		if (fd < 0) {
			r = -errno;
			util_seterr(err, errsz, "%s: %s", devs[i].path, strerror(-r));
			return r;
		}
		r = devs[i].read(fd, &l, err, errsz);
		if (r < 0)
			return r;
		*ret = l;
		return 0;
	}
	r = tee_tsm(rootfd, &l, err, errsz);
	if (r < 0)
		return r;
	*ret = l;
	return 0;
}

int tee_check(const struct tee_launch *launch, const uint8_t *digest, size_t digest_len)
{
	uint8_t want[TEE_LAUNCH_MAX];

	if (!launch || launch->len == 0 || launch->len > sizeof(want))
		return -EINVAL;
	digest_adjust(digest, digest_len, want, launch->len);
	/* Not secret: both values are public; a plain compare is fine. */
	return memcmp(want, launch->value, launch->len) == 0 ? 0 : -EPERM;
}

const char *tee_field_name(enum tee_platform p)
{
	return p == TEE_SNP ? "HOST_DATA" : p == TEE_TDX ? "MRCONFIGID" : "-";
}

int tee_bind_launch(const struct tee_launch *l, const uint8_t *digest, size_t digest_len, char *err, size_t errsz)
{
	char got[2 * TEE_LAUNCH_MAX + 1], want[2 * TEE_LAUNCH_MAX + 1];
	uint8_t adj[TEE_LAUNCH_MAX];

	if (tee_check(l, digest, digest_len) == 0)
		return 0;
	if (l->len == 0 || l->len > TEE_LAUNCH_MAX) {
		util_seterr(err, errsz, "%s: a launch value of %zu bytes", tee_platform_name(l->platform), l->len);
		return -EINVAL;
	}
	digest_adjust(digest, digest_len, adj, l->len);
	util_seterr(err, errsz, "%s %s=%s, the digest adjusted to %zu bytes is %s", tee_platform_name(l->platform),
		    tee_field_name(l->platform), digest_hex(got, l->value, l->len), l->len, digest_hex(want, adj, l->len));
	return -EPERM;
}

int tee_bind(int rootfd, const uint8_t *digest, size_t digest_len, struct tee_launch *ret, char *err, size_t errsz)
{
	struct tee_launch l;
	int r;

	r = tee_read_launch(rootfd, &l, err, errsz);
	if (r < 0)
		return r;
	r = tee_bind_launch(&l, digest, digest_len, err, errsz);
	if (r < 0)
		return r;
	*ret = l;
	return 0;
}
