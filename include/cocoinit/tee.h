/* SPDX-License-Identifier: Apache-2.0 */
/* The TEE's launch value for the initdata binding: SNP HOST_DATA (through
 * /dev/sev-guest or configfs-tsm) or TDX MRCONFIGID (through /dev/tdx_guest).
 * Device paths are relative to a root fd; the ioctls go through sys_ioctl()
 * so tests can answer them. Nothing here decides policy. */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum tee_platform { TEE_NONE, TEE_SNP, TEE_TDX };

#define TEE_LAUNCH_MAX 48     /* bytes of the longest launch value (MRCONFIGID) */
#define TEE_SNP_REPORT_SIZE 1184
#define TEE_SNP_HOST_DATA 0x0C0 /* offset in the report, 32 bytes */
#define TEE_TDX_REPORT_SIZE 1024
#define TEE_TDX_MRCONFIGID 576 /* offset in the TDREPORT, 48 bytes */

struct tee_launch {
	enum tee_platform platform;
	uint8_t value[TEE_LAUNCH_MAX];
	size_t len;         /* 32 (SNP) or 48 (TDX) */
	const char *source; /* "dev/sev-guest", "dev/tdx_guest", "configfs-tsm" */
};

/* "none", "snp", "tdx". */
const char *tee_platform_name(enum tee_platform p);
/* Length of the platform's launch value: SNP 32, TDX 48, none 0. */
size_t tee_launch_len(enum tee_platform p);

/* HOST_DATA of a raw SNP attestation report (len >= 1184). 0 or -EBADMSG. */
int tee_snp_host_data(const uint8_t *report, size_t len, uint8_t out[32]);
/* MRCONFIGID of a TDREPORT (len >= 1024). 0 or -EBADMSG. */
int tee_tdx_mrconfigid(const uint8_t *tdreport, size_t len, uint8_t out[48]);

/* Reads the launch value: rootfd/dev/sev-guest, then rootfd/dev/tdx_guest,
 * then an SNP provider under rootfd/sys/kernel/config/tsm/report. Returns 0
 * with *ret, -ENODEV when none of them exists, another -errno (reason in
 * err) when one exists but can't be read. */
int tee_read_launch(int rootfd, struct tee_launch *ret, char *err, size_t errsz);

/* Reads the launch value and compares it with the digest: 0 with *ret when
 * they match; -ENODEV when there is no TEE device; -EPERM when they differ,
 * err then holds both values ("snp HOST_DATA=<hex>, the digest adjusted to
 * 32 bytes is <hex>"); another -errno when the value can't be read. */
int tee_bind(int rootfd, const uint8_t *digest, size_t digest_len, struct tee_launch *ret, char *err, size_t errsz);

/* tee_bind() with a launch value read before (tee_read_launch()): 0 when
 * it matches the digest, -EPERM with both values in err when not. */
int tee_bind_launch(const struct tee_launch *l, const uint8_t *digest, size_t digest_len, char *err, size_t errsz);

/* "HOST_DATA", "MRCONFIGID" or "-". */
const char *tee_field_name(enum tee_platform p);

/* The binding check: 0 when value equals the digest truncated or
 * zero-padded to launch->len (Kata's adjustment), -EPERM otherwise. */
int tee_check(const struct tee_launch *launch, const uint8_t *digest, size_t digest_len);
