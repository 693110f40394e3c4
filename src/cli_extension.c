/* SPDX-License-Identifier: Apache-2.0 */
/* Tool mode for guest extension images: `cocoinit extension mount|umount
 * NAME` do what Kata's kata-extension-mount.sh / -umount.sh do (same
 * /proc/cmdline key, same table, same mount point, exit 0/1) so a systemd
 * image can drop bash and veritysetup; `list` shows what a boot would do and
 * changes nothing. Finding and mounting are discover.c's and extension.c's. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cocoinit/cli.h"
#include "cocoinit/cmdline.h"
#include "cocoinit/digest.h"
#include "cocoinit/discover.h"
#include "cocoinit/extension.h"
#include "cocoinit/log.h"
#include "cocoinit/state.h"
#include "cocoinit/timing.h"
#include "cocoinit/util.h"

#define CLI_EXT_FAIL 1

static const char cli_extension_usage[] =
	"usage: cocoinit extension mount NAME\n"
	"       cocoinit extension umount NAME\n"
	"       cocoinit extension list [--root DIR] [--json]\n";

/* Static: 17 discover results do not belong on the stack. */
static struct config cfg;
static struct discover_set set;
static char serials[EXTENSION_MAX][21];

/* Reads DIR/proc/cmdline into cfg; on a malformed line logs why. */
static int cli_ext_cmdline(int rootfd)
{
	char err[512] = "";
	int r = cmdline_read(rootfd, &cfg, err, sizeof(err));

	if (r < 0)
		log_error("extension: /proc/cmdline: %s", err[0] ? err : strerror(-r));
	return r;
}

/* One scan of every disk for the extensions in cfg (and strays). */
static int cli_ext_scan(int rootfd)
{
	memset(&set, 0, sizeof(set));
	for (size_t i = 0; i < cfg.n_extensions; i++) {
		set.t[i].serial_len = extension_serial(cfg.extensions[i].name, serials[i]);
		set.t[i].serial = serials[i];
		set.t[i].status = -ENOENT;
	}
	set.n = cfg.n_extensions;
	set.stray_prefix = EXTENSION_SERIAL_PREFIX;
	set.uevent_fd = -1;
	return discover_set_scan(rootfd, &set);
}

/* The spec for name: the command line's, or (no key names it) an unmeasured
 * one, as Kata's script reads an absent key as empty params. */
static int cli_ext_spec(const char *name, struct extension_spec *spec, size_t *ret_idx)
{
	for (size_t i = 0; i < cfg.n_extensions; i++) {
		if (strcmp(cfg.extensions[i].name, name) == 0) {
			*spec = cfg.extensions[i];
			*ret_idx = i;
			return 0;
		}
	}
	if (cfg.n_extensions >= EXTENSION_MAX)
		return -E2BIG;
	memset(spec, 0, sizeof(*spec));
	util_strlcpy(spec->name, name, sizeof(spec->name));
	cfg.extensions[cfg.n_extensions] = *spec;
	*ret_idx = cfg.n_extensions++;
	return 0;
}

static bool cli_ext_name(const char *cmd, const char *name)
{
	char esc[LOG_ESCAPED_SIZE(EXTENSION_NAME_MAX + 1)];

	if (extension_name_ok(name, strlen(name)))
		return true;
	log_error("extension %s: \"%s\" is not an extension name ([A-Za-z0-9_.-]{1,%d}, not . or ..)", cmd,
		  log_escape(esc, sizeof(esc), name, strnlen(name, EXTENSION_NAME_MAX + 1)), EXTENSION_NAME_MAX);
	return false;
}

static int cli_ext_mount(const char *name)
{
	_cleanup_close_ int rootfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct extension_spec spec;
	struct extension_result res = { 0 };
	char err[512] = "", list[DISCOVER_MATCHES_SIZE];
	size_t idx;
	int r;

	if (!cli_ext_name("mount", name))
		return CLI_EXT_FAIL;
	if (rootfd < 0 || cli_ext_cmdline(rootfd) < 0)
		return CLI_EXT_FAIL;
	if (cli_ext_spec(name, &spec, &idx) < 0) {
		log_error("extension mount: more than %d extensions on the command line", EXTENSION_MAX);
		return CLI_EXT_FAIL;
	}
	r = cli_ext_scan(rootfd);
	if (r < 0) {
		log_error("extension mount: sys/class/block: %s", strerror(-r));
		return CLI_EXT_FAIL;
	}
	if (set.t[idx].status == -ENOTUNIQ) {
		(void)discover_format_matches(&set.t[idx].result, list, sizeof(list));
		log_error("extension: ambiguous serial=%s devices=%s", serials[idx], list);
		return CLI_EXT_FAIL;
	}
	if (set.t[idx].status != 0) {
		log_error("extension: no block device with serial %s found", serials[idx]);
		return CLI_EXT_FAIL;
	}
	r = extension_mount(rootfd, &spec, set.t[idx].result.name, timing_now_us(), -1, &res, err, sizeof(err));
	if (r < 0) {
		/* extension_mount() names the extension and the disk itself */
		if (err[0])
			log_error("%s", err);
		else
			log_error("extension %s (/dev/%s): %s", name, set.t[idx].result.name, strerror(-r));
		return CLI_EXT_FAIL;
	}
	printf("Extension %s mounted at /%s/%s\n", name, EXTENSION_MOUNT_DIR, name);
	return 0;
}

static int cli_ext_umount(const char *name)
{
	_cleanup_close_ int rootfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char err[512] = "";
	int r;

	if (!cli_ext_name("umount", name))
		return CLI_EXT_FAIL;
	if (rootfd < 0)
		return CLI_EXT_FAIL;
	r = extension_umount(rootfd, name, err, sizeof(err));
	/* Nothing mounted and no target: already done, as the script says. */
	if (r < 0 && r != -ENOENT && r != -ENXIO && r != -EINVAL) {
		if (err[0])
			log_error("%s", err);
		else
			log_error("extension %s: %s", name, strerror(-r));
		return CLI_EXT_FAIL;
	}
	printf("Extension %s unmounted\n", name);
	return 0;
}

/* Which partitions (1, 2) sysfs shows below the disk. */
static unsigned cli_ext_partitions(int rootfd, const char *disk)
{
	char path[DISCOVER_NAME_MAX + 32];
	_cleanup_close_ int fd = -1;
	unsigned mask = 0;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "sys/class/block/%s", disk);
	fd = openat(rootfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (!d)
		return 0;
	fd = -1;
	while ((de = readdir(d))) {
		char num[16], p[300];
		uint64_t n;
		if (strncmp(de->d_name, disk, strlen(disk)) != 0)
			continue;
		snprintf(p, sizeof(p), "%s/partition", de->d_name);
		ssize_t got = util_read_file_at(dirfd(d), p, num, sizeof(num) - 1, true);
		if (got <= 0)
			continue;
		num[got] = '\0';
		num[strcspn(num, "\n")] = '\0';
		if (util_parse_u64(num, &n) == 0 && (n == 1 || n == 2))
			mask |= 1u << n;
	}
	closedir(d);
	return mask;
}

/* What a boot would do with extension i: action and reason. */
static const char *cli_ext_plan(int rootfd, size_t i, const char **why)
{
	const struct discover_target *t = &set.t[i];
	unsigned parts;

	*why = "";
	if (t->status == -ENOTUNIQ) {
		*why = "two or more disks have its serial";
		return "refuse";
	}
	if (t->status != 0) {
		*why = "no disk has its serial";
		return "missing";
	}
	parts = cli_ext_partitions(rootfd, t->result.name);
	if (parts & (1u << 2)) {
		if (cfg.extensions[i].measured)
			return "verity";
		*why = "hash partition present but no verity params";
		return "refuse";
	}
	if (cfg.extensions[i].measured) {
		*why = "verity params but no hash partition";
		return "refuse";
	}
	return "raw";
}

static void cli_ext_json_str(const char *s, size_t n)
{
	char buf[LOG_ESCAPED_SIZE(SERIAL_MAX) * 2 + 8];

	if (!s) {
		fputs("null", stdout);
		return;
	}
	if (state_json_string(buf, sizeof(buf), s, n) < 0)
		fputs("null", stdout);
	else
		fputs(buf, stdout);
}

static int cli_ext_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *root = "/";
	_cleanup_close_ int rootfd = -1;
	bool json = false, ok = true;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":r:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			root = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(cli_extension_usage, stdout);
			return 0;
		default:
			fputs(cli_extension_usage, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fputs(cli_extension_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		log_error("extension list: can't open root: %s", strerror(errno));
		return CLI_EXT_FAIL;
	}
	if (cli_ext_cmdline(rootfd) < 0)
		return CLI_EXT_FAIL;
	r = cli_ext_scan(rootfd);
	if (r < 0) {
		log_error("extension list: sys/class/block: %s", strerror(-r));
		return CLI_EXT_FAIL;
	}
	if (json)
		fputs("{\"extensions\":[", stdout);
	for (size_t i = 0; i < cfg.n_extensions; i++) {
		const struct extension_spec *e = &cfg.extensions[i];
		char hash[2 * VERITY_DIGEST_MAX + 1] = "", dev[DISCOVER_NAME_MAX + 8] = "";
		const char *why, *action = cli_ext_plan(rootfd, i, &why);

		if (e->measured)
			digest_hex(hash, e->params.root_hash, e->params.root_hash_len);
		if (set.t[i].status == 0)
			snprintf(dev, sizeof(dev), "/dev/%s", set.t[i].result.name);
		ok &= strcmp(action, "verity") == 0 || strcmp(action, "raw") == 0;
		if (!json) {
			char edev[LOG_ESCAPED_SIZE(DISCOVER_NAME_MAX + 8)];
			/* names below --root are anyone's bytes */
			log_escape(edev, sizeof(edev), dev[0] ? dev : "-", dev[0] ? strlen(dev) : 1);
			printf("%s serial=%s device=%s %s%s%s%s%s\n", e->name, serials[i], edev, action,
			       e->measured ? " root_hash=" : "", hash, why[0] ? ": " : "", why);
			continue;
		}
		printf("%s{\"name\":", i ? "," : "");
		cli_ext_json_str(e->name, strlen(e->name));
		printf(",\"serial\":");
		cli_ext_json_str(serials[i], set.t[i].serial_len);
		printf(",\"measured\":%s,\"root_hash\":", e->measured ? "true" : "false");
		cli_ext_json_str(e->measured ? hash : NULL, strlen(hash));
		printf(",\"device\":");
		cli_ext_json_str(dev[0] ? dev : NULL, strlen(dev));
		printf(",\"action\":\"%s\",\"reason\":", action);
		cli_ext_json_str(why[0] ? why : NULL, strlen(why));
		printf(",\"mount_point\":\"/%s/%s\"}", EXTENSION_MOUNT_DIR, e->name);
	}
	if (json)
		fputs("],\"strays\":[", stdout);
	for (unsigned i = 0; i < set.n_strays && i < DISCOVER_STRAY_MAX; i++) {
		char dev[DISCOVER_NAME_MAX + 8];
		int n = snprintf(dev, sizeof(dev), "/dev/%s", set.strays[i]);
		if (json) {
			if (i)
				fputs(",", stdout);
			cli_ext_json_str(dev, (size_t)n);
		} else {
			char esc[LOG_ESCAPED_SIZE(DISCOVER_NAME_MAX + 8)];
			printf("stray device=%s refuse: an extension serial no kata.extension key names\n",
			       log_escape(esc, sizeof(esc), dev, (size_t)n));
		}
	}
	ok &= set.n_strays == 0;
	if (json)
		fputs("]}\n", stdout);
	return ok ? 0 : CLI_EXT_FAIL;
}

int cli_extension(int argc, char **argv)
{
	if (argc < 2) {
		fputs(cli_extension_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "list") == 0) {
		optind = 1;
		return cli_ext_list(argc - 1, argv + 1);
	}
	if ((strcmp(argv[1], "mount") == 0 || strcmp(argv[1], "umount") == 0) && argc == 3)
		return argv[1][0] == 'm' ? cli_ext_mount(argv[2]) : cli_ext_umount(argv[2]);
	fputs(cli_extension_usage, stderr);
	return CLI_EXIT_USAGE;
}
