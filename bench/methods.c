/* SPDX-License-Identifier: Apache-2.0 */
/* The methods of methods.h. The Kata agent's scan is written the way the
 * agent does it (list dev/, open each vd* and sd*, read 8 bytes), not with
 * cocoinit's scan.c, so that the comparison is against the real thing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cocoinit/discover.h"
#include "cocoinit/serial.h"
#include "cocoinit/util.h"
#include "methods.h"

#define BENCH_MAX_DISKS 8192

const char *const bench_method_names[BENCH_METHODS] = {
	"hint", "by-id", "sysfs", "sysfs-concurrent", "magic", "magic-cocoinit", "one-read",
};

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int bench_magic_agent(int rootfd, char *found, size_t size)
{
	_cleanup_close_ int devfd = openat(rootfd, "dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	int hits = 0;
	DIR *d;

	if (devfd < 0)
		return -errno;
	d = fdopendir(dup(devfd));
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char magic[8];

		if (strncmp(de->d_name, "vd", 2) != 0 && strncmp(de->d_name, "sd", 2) != 0)
			continue;
		int fd = openat(devfd, de->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) && memcmp(magic, "initdata", 8) == 0) {
			util_strlcpy(found, de->d_name, size);
			hits++;
		}
		close(fd);
	}
	closedir(d);
	return hits == 1 ? 0 : -ENOENT;
}

/* sysfs with the serial reads spread over threads: the names are listed
 * once, then each thread reads every BENCH_THREADS-th serial. Each
 * virtio-blk serial read is a request to the device, so waits could overlap. */
struct bench_par {
	int sysfd;
	const char *serial;
	char (*names)[DISCOVER_NAME_MAX];
	size_t n, start;
	int match;
	unsigned matches;
};

static void *bench_par_worker(void *arg)
{
	struct bench_par *c = arg;

	for (size_t i = c->start; i < c->n; i += BENCH_THREADS) {
		char got[SERIAL_MAX + 1];
		size_t len;
		enum serial_kind kind;

		if (serial_read(c->sysfd, c->names[i], got, &len, &kind) < 0)
			continue;
		if (serial_matches(c->serial, strlen(c->serial), got, len, kind)) {
			c->match = (int)i;
			c->matches++;
		}
	}
	return NULL;
}

static int bench_sysfs_concurrent(int rootfd, const char *serial, char *found, size_t size)
{
	static char names[BENCH_MAX_DISKS][DISCOVER_NAME_MAX];
	_cleanup_close_ int sysfd = openat(rootfd, "sys/class/block", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct bench_par ctx[BENCH_THREADS];
	pthread_t tid[BENCH_THREADS];
	bool started[BENCH_THREADS] = { false };
	struct dirent *de;
	unsigned total = 0;
	size_t n = 0;
	DIR *d;

	if (sysfd < 0)
		return -errno;
	d = fdopendir(dup(sysfd));
	if (!d)
		return -errno;
	while ((de = readdir(d)) && n < BENCH_MAX_DISKS) {
		if (de->d_name[0] != '.')
			util_strlcpy(names[n++], de->d_name, DISCOVER_NAME_MAX);
	}
	closedir(d);
	for (unsigned t = 0; t < BENCH_THREADS; t++) {
		ctx[t] = (struct bench_par){ .sysfd = sysfd, .serial = serial, .names = names, .n = n, .start = t,
					     .match = -1 };
		started[t] = pthread_create(&tid[t], NULL, bench_par_worker, &ctx[t]) == 0;
		if (!started[t])
			bench_par_worker(&ctx[t]);
	}
	for (unsigned t = 0; t < BENCH_THREADS; t++) {
		if (started[t])
			pthread_join(tid[t], NULL);
		total += ctx[t].matches;
		if (ctx[t].match >= 0)
			util_strlcpy(found, names[ctx[t].match], size);
	}
	return total == 1 ? 0 : -ENOENT;
}

/* One read of the hinted disk's serial attribute, nothing else. */
static int bench_one_read(int rootfd, const char *serial, const char *hint, char *found, size_t size)
{
	char path[DISCOVER_NAME_MAX + 32], got[SERIAL_MAX + 2];
	size_t len = strlen(serial);
	ssize_t n;

	if (!hint || strlen(hint) >= DISCOVER_NAME_MAX)
		return -EINVAL;
	memcpy(path, "sys/class/block/", 16);
	memcpy(path + 16, hint, strlen(hint));
	memcpy(path + 16 + strlen(hint), "/serial", 8);
	n = util_read_attr_at(rootfd, path, got, sizeof(got));
	if (n < 0)
		return (int)n;
	if ((size_t)n < len || memcmp(got, serial, len) != 0)
		return -ENOENT;
	util_strlcpy(found, hint, size);
	return 0;
}

int bench_run_method(enum bench_method m, int rootfd, const char *serial, const char *hint, char *found,
		     size_t size)
{
	struct discover_opts opts = {
		.serial = serial,
		.serial_len = strlen(serial),
		.hint = hint,
		.uevent_fd = -1,
	};
	struct discover_result res;
	int r;

	switch (m) {
	case BENCH_HINT:
		r = discover_by_hint(rootfd, &opts, &res);
		break;
	case BENCH_BYID:
		r = discover_by_id(rootfd, &opts, &res);
		break;
	case BENCH_SYSFS:
		r = discover_by_sysfs(rootfd, &opts, &res);
		break;
	case BENCH_MAGIC_COCOINIT:
		r = discover_by_magic(rootfd, &opts, &res);
		break;
	case BENCH_SYSFS_CONCURRENT:
		return bench_sysfs_concurrent(rootfd, serial, found, size);
	case BENCH_MAGIC_AGENT:
		return bench_magic_agent(rootfd, found, size);
	case BENCH_ONE_READ:
		return bench_one_read(rootfd, serial, hint, found, size);
	default:
		return -EINVAL;
	}
	if (r == 0)
		util_strlcpy(found, res.name, size);
	return r;
}
