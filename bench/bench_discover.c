/* SPDX-License-Identifier: Apache-2.0 */
/* Discovery benchmark on generated trees: N virtio disks laid out like the
 * kernel's sysfs and udev's /dev/disk/by-id, the initdata disk last. Times
 * each method (hint, by-id, sysfs, sysfs with concurrent serial reads, and
 * the Kata agent's content scan) in the same run and writes JSON. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cocoinit/discover.h"
#include "cocoinit/log.h"
#include "cocoinit/serial.h"
#include "cocoinit/util.h"
#include "methods.h"

#define TARGET_SERIAL "initdata"
#define MAX_RUNS 1000

/* The kernel's virtio_blk names: vda..vdz, vdaa..vdzz, vdaaa... */
static void disk_name(unsigned index, char *out, size_t size)
{
	char rev[8];
	size_t n = 0;
	unsigned i = index;

	do {
		rev[n++] = (char)('a' + i % 26);
		i = i / 26;
	} while (i-- > 0 && n < sizeof(rev));
	size_t o = util_strlcpy(out, "vd", size);
	while (n > 0 && o + 1 < size)
		out[o++] = rev[--n];
	out[o] = '\0';
}

static int write_file(const char *path, const void *data, size_t len)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	return util_write_all(fd, data, len);
}

static int mkdirs(const char *path)
{
	char buf[4096];

	util_strlcpy(buf, path, sizeof(buf));
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Builds DIR with n disks; the last one carries the initdata serial and the
 * raw-format magic, the others "disk-NNNNN" and zeros. */
static int tree_build(const char *dir, unsigned n, char *target, size_t target_size)
{
	char path[4096], link[4096], name[16], serial[32];
	char block[512];

	snprintf(path, sizeof(path), "%s/sys/class/block", dir);
	if (mkdirs(path) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/dev/disk/by-id", dir);
	if (mkdirs(path) < 0)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		bool last = i + 1 == n;
		/* 30 slots per bridge, as on a real q35 machine with root ports */
		unsigned bus = i / 30, slot = i % 30;

		disk_name(i, name, sizeof(name));
		if (last)
			util_strlcpy(serial, TARGET_SERIAL, sizeof(serial));
		else
			snprintf(serial, sizeof(serial), "disk-%05u", i);
		snprintf(path, sizeof(path), "%s/sys/devices/pci0000:00/0000:00:%02x.0/0000:%02x:%02x.0/virtio%u/block/%s",
			 dir, bus & 0x1f, bus + 1, slot, i, name);
		if (mkdirs(path) < 0)
			return -1;
		snprintf(link, sizeof(link), "%s/serial", path);
		if (write_file(link, serial, strlen(serial)) < 0)
			return -1;
		snprintf(link, sizeof(link), "../../devices/pci0000:00/0000:00:%02x.0/0000:%02x:%02x.0/virtio%u/block/%s",
			 bus & 0x1f, bus + 1, slot, i, name);
		snprintf(path, sizeof(path), "%s/sys/class/block/%s", dir, name);
		if (symlink(link, path) < 0 && errno != EEXIST)
			return -1;
		memset(block, 0, sizeof(block));
		if (last)
			memcpy(block, "initdata\x08\0\0\0\0\0\0\0", 16);
		snprintf(path, sizeof(path), "%s/dev/%s", dir, name);
		if (write_file(path, block, sizeof(block)) < 0)
			return -1;
		snprintf(path, sizeof(path), "%s/dev/disk/by-id/virtio-%s", dir, serial);
		snprintf(link, sizeof(link), "../../%s", name);
		if (symlink(link, path) < 0 && errno != EEXIST)
			return -1;
		if (last)
			util_strlcpy(target, name, target_size);
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Peak RSS of `cocoinit locate --root DIR`, the whole tool as shipped. */
static long locate_maxrss_kib(const char *bin, const char *dir)
{
	struct rusage ru;
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execl(bin, bin, "locate", "--root", dir, "--method", "sysfs", (char *)NULL);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return ru.ru_maxrss;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_discover --out FILE [--runs N] [--sizes 1,16,...] [--tmp DIR] [--bin COCOINIT]\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },   { "runs", required_argument, NULL, 'r' },
		{ "sizes", required_argument, NULL, 's' }, { "tmp", required_argument, NULL, 't' },
		{ "bin", required_argument, NULL, 'b' },   { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *tmpdir = NULL, *bin = NULL;
	char sizes_buf[256] = "1,16,64,256,1024,4096";
	unsigned runs = 20;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'r': runs = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': util_strlcpy(sizes_buf, optarg, sizeof(sizes_buf)); break;
		case 't': tmpdir = optarg; break;
		case 'b': bin = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!out || runs == 0 || runs > MAX_RUNS) {
		usage(stderr);
		return 2;
	}
	log_set_level(LOG_LVL_ERR);

	char base[4096];
	snprintf(base, sizeof(base), "%s/cocoinit-bench-XXXXXX", tmpdir ? tmpdir : "/tmp");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}

	FILE *json = fopen(out, "w");
	if (!json) {
		perror(out);
		return 1;
	}
	fprintf(json, "{\"runs\":%u,\"unit\":\"us\",\"points\":[", runs);

	printf("%6s", "disks");
	for (int m = 0; m < BENCH_METHODS; m++)
		printf(" %16s", bench_method_names[m]);
	printf("   (median us)\n");

	int first = 1, failed = 0;
	for (char *save = NULL, *tok = strtok_r(sizes_buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned n = (unsigned)strtoul(tok, NULL, 10);
		char dir[4200], target[DISCOVER_NAME_MAX];
		static uint64_t samples[BENCH_METHODS][MAX_RUNS];
		double median[BENCH_METHODS];

		if (n == 0 || n > 8000)
			continue;
		snprintf(dir, sizeof(dir), "%s/%u", base, n);
		if (mkdirs(dir) < 0 || tree_build(dir, n, target, sizeof(target)) < 0) {
			fprintf(stderr, "bench_discover: cannot build the tree for %u disks\n", n);
			return 1;
		}
		_cleanup_close_ int rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		/* Interleave methods within each run so that drift hits them alike. */
		for (unsigned r = 0; r < runs; r++) {
			for (int m = 0; m < BENCH_METHODS; m++) {
				char found[DISCOVER_NAME_MAX] = "";
				uint64_t t0 = bench_now_ns();
				int ret = bench_run_method((enum bench_method)m, rootfd, TARGET_SERIAL, target, found, sizeof(found));
				samples[m][r] = bench_now_ns() - t0;
				if (ret < 0 || strcmp(found, target) != 0) {
					fprintf(stderr, "bench_discover: %s did not find %s among %u disks (%d)\n",
						bench_method_names[m], target, n, ret);
					failed = 1;
				}
			}
		}
		printf("%6u", n);
		fprintf(json, "%s{\"disks\":%u", first ? "" : ",", n);
		first = 0;
		for (int m = 0; m < BENCH_METHODS; m++) {
			qsort(samples[m], runs, sizeof(uint64_t), cmp_u64);
			uint64_t mid = runs % 2 ? samples[m][runs / 2] : (samples[m][runs / 2 - 1] + samples[m][runs / 2]) / 2;
			median[m] = (double)mid / 1000.0;
			printf(" %16.1f", median[m]);
			fprintf(json, ",\"%s\":%.3f", bench_method_names[m], median[m]);
		}
		if (bin) {
			long rss = locate_maxrss_kib(bin, dir);
			fprintf(json, ",\"locate_maxrss_kib\":%ld", rss);
			printf("   maxrss %ld KiB", rss);
		}
		fprintf(json, "}");
		printf("\n");
	}
	fprintf(json, "]}\n");
	fclose(json);

	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_discover: could not remove %s\n", base);
	return failed;
}
