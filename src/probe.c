/* SPDX-License-Identifier: Apache-2.0 */
/* Naming what is on the initdata disk: Kata's raw format by its 8-byte magic,
 * otherwise the filesystem libblkid finds. Only superblock types are asked
 * for; an ambivalent answer (two signatures) is an error, never a guess. */
#include <blkid.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cocoinit/initdata.h"
#include "cocoinit/probe.h"
#include "cocoinit/util.h"

static void blkid_free_probep(blkid_probe *pr)
{
	if (*pr)
		blkid_free_probe(*pr);
}

static int put_type(const char *type, char *out, size_t outsz)
{
	if (util_strlcpy(out, type, outsz) >= outsz)
		return -ENOBUFS;
	return 0;
}

int probe_fd(int fd, char *out, size_t outsz)
{
	_cleanup_(blkid_free_probep) blkid_probe pr = NULL;
	char magic[8];
	const char *type = NULL;
	ssize_t got;
	int r;

	if (!out || outsz == 0)
		return -EINVAL;
	/* The raw format has no superblock libblkid knows: look for it first. */
	got = util_pread_all(fd, magic, sizeof(magic), 0);
	if (got < 0)
		return (int)got;
	/* Nothing we know fits in fewer bytes than the magic; libblkid would
	 * call an empty device an error rather than unknown. */
	if ((size_t)got < sizeof(magic))
		return -ENOENT;
	if (memcmp(magic, INITDATA_MAGIC, sizeof(magic)) == 0)
		return put_type("kata-raw", out, outsz);

	pr = blkid_new_probe();
	if (!pr)
		return -ENOMEM;
	if (blkid_probe_set_device(pr, fd, 0, 0) < 0)
		return -EIO;
	blkid_probe_enable_partitions(pr, 0);
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);

	r = blkid_do_safeprobe(pr);
	if (r == 1)
		return -ENOENT;
	if (r == -2)
		return -ENOTUNIQ; /* more than one signature: refuse to pick */
	if (r < 0)
		return -EIO; /* errno is not reliable here: libblkid opens sysfs files */
	if (blkid_probe_lookup_value(pr, "TYPE", &type, NULL) < 0 || !type || !*type)
		return -ENOENT;
	return put_type(type, out, outsz);
}

int probe_type_supported(const char *type)
{
	static const char *const supported[] = { "iso9660", "vfat", "ext4", "erofs", "squashfs" };

	if (!type)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(supported); i++)
		if (strcmp(type, supported[i]) == 0)
			return 1;
	return 0;
}

int probe_partitions(int fd, uint64_t *ret_mask)
{
	_cleanup_(blkid_free_probep) blkid_probe pr = NULL;
	blkid_partlist ls;
	uint64_t mask = 0;
	int r, n;

	pr = blkid_new_probe();
	if (!pr)
		return -ENOMEM;
	if (blkid_probe_set_device(pr, fd, 0, 0) < 0)
		return -EIO;
	blkid_probe_enable_superblocks(pr, 0);
	blkid_probe_enable_partitions(pr, 1);
	r = blkid_do_safeprobe(pr);
	if (r == 1)
		return -ENOENT;
	if (r == -2)
		return -ENOTUNIQ;
	if (r < 0)
		return -EIO;
	ls = blkid_probe_get_partitions(pr);
	if (!ls)
		return -ENOENT;
	n = blkid_partlist_numof_partitions(ls);
	for (int i = 0; i < n; i++) {
		int no = blkid_partition_get_partno(blkid_partlist_get_partition(ls, i));
		if (no >= 1 && no <= 64)
			mask |= UINT64_C(1) << (no - 1);
	}
	*ret_mask = mask;
	return 0;
}
