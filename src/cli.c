/* SPDX-License-Identifier: Apache-2.0 */
/* Tool mode (cocoinit not PID 1): locate, probe, extract, encode-serial,
 * with the exit codes of CONTRACT section 6. It never mounts or execs; it
 * only reads, except for `extract`, which writes DIR/initdata.toml. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cocoinit/cli.h"
#include "cocoinit/discover.h"
#include "cocoinit/digest.h"
#include "cocoinit/initdata.h"
#include "cocoinit/initdata_doc.h"
#include "cocoinit/log.h"
#include "cocoinit/probe.h"
#include "cocoinit/serial.h"
#include "cocoinit/state.h"
#include "cocoinit/tee.h"
#include "cocoinit/toml.h"
#include "cocoinit/util.h"

static const char cli_usage[] =
	"usage: cocoinit locate [--serial S] [--root DIR] [--method auto|hint|by-id|sysfs|magic]\n"
	"                       [--hint H] [--timeout-ms N] [--json] [--verbose]\n"
	"       cocoinit probe DEVICE\n"
	"       cocoinit extract DEVICE DIR [--max-bytes N]\n"
	"       cocoinit encode-serial SERIAL\n"
	"       cocoinit initdata show FILE [--json]\n"
	"       cocoinit initdata show --toml FILE\n"
	"       cocoinit initdata digest FILE [--platform snp|tdx|none]\n"
	"       cocoinit extension mount|umount NAME | list [--root DIR] [--json]\n"
	"       cocoinit --version | --help\n"
	"\n"
	"locate exits 0 when found, 1 when not found, 3 when ambiguous, 2 on a usage error, 4 on\n"
	"another error. Under --root DIR, discovery reads DIR/sys/class/block and DIR/dev.\n"
	"With --timeout-ms it waits for new disks: on udevd's events when udevd runs\n"
	"(DIR/run/udev/control; builds with libudev), else on the kernel's uevents.\n";

static int cli_usage_error(const char *cmd, const char *what, const char *arg)
{
	char esc[LOG_ESCAPED_SIZE(64)];

	/* Every line already starts "cocoinit: "; the top level has no subcommand name. */
	log_error("%s%s%s%s%s (see cocoinit --help)", cmd ? cmd : "", cmd ? ": " : "", what, arg ? " " : "",
		  arg ? log_escape(esc, sizeof(esc), arg, strlen(arg)) : "");
	return CLI_EXIT_USAGE;
}

/* Runs getopt_long over a subcommand's own arguments; leading ':' makes a
 * missing argument distinguishable, opterr = 0 keeps messages ours. */
static int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	opterr = 0;
	return getopt_long(argc, argv, shortopts, longopts, NULL);
}

static int cli_bad_option(const char *cmd, int c, char **argv)
{
	if (c == ':')
		return cli_usage_error(cmd, "missing argument for", argv[optind - 1]);
	return cli_usage_error(cmd, "unknown option", argv[optind - 1]);
}

/* Room for the largest object (about 4.8 KiB): a 255-byte serial and eight
 * 63-byte names whose every byte is a 6-character \u00XX escape. */
#define CLI_JSON_MAX (2 * (SERIAL_MAX * 6) + DISCOVER_AMBIGUOUS_MAX * (DISCOVER_NAME_MAX * 6 + 16) + 256)

struct cli_json {
	char buf[CLI_JSON_MAX];
	size_t len;
	bool overflow;
};

static void cli_json_raw(struct cli_json *j, const char *s)
{
	size_t n = strlen(s);

	if (j->len + n >= sizeof(j->buf)) {
		j->overflow = true;
		return;
	}
	memcpy(j->buf + j->len, s, n + 1);
	j->len += n;
}

static void cli_json_str(struct cli_json *j, const char *s, size_t n)
{
	int r = state_json_string(j->buf + j->len, sizeof(j->buf) - j->len, s, n);

	if (r < 0)
		j->overflow = true;
	else
		j->len += (size_t)r;
}

static void cli_locate_json(int r, const char *serial, size_t serial_len, const struct discover_result *res)
{
	struct cli_json j = { .len = 0 };
	char num[64];

	cli_json_raw(&j, "{\"device\":");
	if (r == 0)
		cli_json_str(&j, res->devnode, strlen(res->devnode));
	else
		cli_json_raw(&j, "null");
	cli_json_raw(&j, ",\"method\":");
	if (r == 0 || r == -ENOTUNIQ) {
		const char *m = discover_method_name(res->method);
		cli_json_str(&j, m, strlen(m));
	} else {
		cli_json_raw(&j, "null");
	}
	cli_json_raw(&j, ",\"serial\":");
	cli_json_str(&j, serial, serial_len);
	if (r == -ENOTUNIQ) {
		cli_json_raw(&j, ",\"ambiguous\":[");
		for (unsigned i = 0; i < res->n_matches; i++) {
			char dev[DISCOVER_NAME_MAX + 8];
			int n = snprintf(dev, sizeof(dev), "/dev/%s", res->matches[i]);
			if (i)
				cli_json_raw(&j, ",");
			cli_json_str(&j, dev, (size_t)n);
		}
		cli_json_raw(&j, "]");
	}
	snprintf(num, sizeof(num), ",\"examined\":%u,\"elapsed_us\":%" PRIu64 "}\n", res->examined,
		 res->elapsed_us);
	cli_json_raw(&j, num);
	if (j.overflow) {
		log_error("locate: JSON output too long");
		return;
	}
	fputs(j.buf, stdout);
}

static int cli_parse_method(const char *s, unsigned *ret)
{
	static const struct {
		const char *name;
		unsigned methods;
	} map[] = {
		{ "auto", DISCOVER_AUTO },   { "hint", DISCOVER_HINT },   { "by-id", DISCOVER_BYID },
		{ "sysfs", DISCOVER_SYSFS }, { "magic", DISCOVER_MAGIC },
	};

	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		if (strcmp(s, map[i].name) == 0) {
			*ret = map[i].methods;
			return 0;
		}
	}
	return -EINVAL;
}

static int cli_locate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "serial", required_argument, NULL, 's' }, { "root", required_argument, NULL, 'r' },
		{ "method", required_argument, NULL, 'm' }, { "hint", required_argument, NULL, 'H' },
		{ "timeout-ms", required_argument, NULL, 't' }, { "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },      { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct discover_opts dopts = { .serial = "initdata", .methods = DISCOVER_AUTO, .uevent_fd = -1 };
	struct discover_result res;
	const char *root = "/";
	char esc[LOG_ESCAPED_SIZE(SERIAL_MAX)];
	_cleanup_close_ int rootfd = -1;
	bool json = false;
	int c, r;

	while ((c = cli_getopt(argc, argv, ":s:r:m:H:t:jvh", opts)) != -1) {
		switch (c) {
		case 's':
			dopts.serial = optarg;
			break;
		case 'r':
			root = optarg;
			break;
		case 'm':
			if (cli_parse_method(optarg, &dopts.methods) < 0)
				return cli_usage_error("locate", "unknown method", optarg);
			break;
		case 'H':
			dopts.hint = optarg;
			break;
		case 't':
			if (util_parse_u64(optarg, &dopts.timeout_ms) < 0 || dopts.timeout_ms > UINT32_MAX)
				return cli_usage_error("locate", "bad --timeout-ms", optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'h':
			fputs(cli_usage, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_bad_option("locate", c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error("locate", "unexpected argument", argv[optind]);
	dopts.serial_len = strlen(dopts.serial);
	if (dopts.serial_len == 0 || dopts.serial_len > SERIAL_MAX)
		return cli_usage_error("locate", "--serial must be 1 to 255 bytes", NULL);
	if (dopts.methods == DISCOVER_HINT && !dopts.hint)
		return cli_usage_error("locate", "--method hint needs --hint", NULL);

	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		log_error("locate: can't open root %s: %s", log_escape(esc, sizeof(esc), root, strlen(root)),
			  strerror(errno));
		return CLI_EXIT_ERROR;
	}
	/* Bound before the scan, so a disk added during it is not missed:
	 * udevd's monitor when it runs below --root, else kernel uevents. */
	if ((dopts.methods & DISCOVER_UEVENT) && dopts.timeout_ms > 0) {
		r = discover_waiter_open(rootfd, &dopts);
		if (r < 0) {
			log_error("locate: can't listen for uevents: %s", strerror(-r));
			return CLI_EXIT_ERROR;
		}
	}

	r = discover_run(rootfd, &dopts, &res);
	discover_waiter_close(&dopts);
	log_escape(esc, sizeof(esc), dopts.serial, dopts.serial_len);
	if (json)
		cli_locate_json(r, dopts.serial, dopts.serial_len, &res);
	if (r == 0) {
		char dev[LOG_ESCAPED_SIZE(sizeof(res.devnode))];

		/* stdout is the answer, byte for byte; the log line is escaped. */
		if (!json)
			printf("%s\n", res.devnode);
		log_debug("initdata: found %s via %s serial=%s in %" PRIu64 "us",
			  log_escape(dev, sizeof(dev), res.devnode, strnlen(res.devnode, sizeof(res.devnode))),
			  discover_method_name(res.method), esc, res.elapsed_us);
		return CLI_EXIT_OK;
	}
	if (r == -ENOENT) {
		log_info("initdata: not found serial=%s", esc);
		return CLI_EXIT_NOTFOUND;
	}
	if (r == -ENOTUNIQ) {
		char list[DISCOVER_MATCHES_SIZE];
		(void)discover_format_matches(&res, list, sizeof(list));
		log_error("initdata: ambiguous serial=%s devices=%s", esc, list);
		return CLI_EXIT_AMBIGUOUS;
	}
	log_error("locate: %s", strerror(-r));
	return CLI_EXIT_ERROR;
}

static int cli_no_options(const char *cmd, int argc, char **argv, int nargs)
{
	static const struct option opts[] = { { 0 } };
	int c;

	while ((c = cli_getopt(argc, argv, ":", opts)) != -1)
		return cli_bad_option(cmd, c, argv);
	if (argc - optind != nargs)
		return cli_usage_error(cmd, nargs == 1 ? "needs exactly one argument" : "wrong arguments", NULL);
	return 0;
}

static int cli_probe(int argc, char **argv)
{
	char type[PROBE_TYPE_MAX];
	char esc[LOG_ESCAPED_SIZE(256)];
	_cleanup_close_ int fd = -1;
	int r;

	r = cli_no_options("probe", argc, argv, 1);
	if (r)
		return r;
	const char *dev = argv[optind];
	log_escape(esc, sizeof(esc), dev, strlen(dev));
	fd = open(dev, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		log_error("probe: can't open %s: %s", esc, strerror(errno));
		return CLI_EXIT_ERROR;
	}
	r = probe_fd(fd, type, sizeof(type));
	if (r == -ENOENT) {
		log_error("probe: %s: nothing recognised", esc);
		return CLI_EXIT_NOTFOUND;
	}
	/* Not one type: unknown, as cocoinit as PID 1 would refuse it. */
	if (r == -ENOTUNIQ) {
		log_error("probe: %s: more than one signature (ambivalent); refusing to pick one", esc);
		return CLI_EXIT_NOTFOUND;
	}
	if (r < 0) {
		log_error("probe: %s: %s", esc, strerror(-r));
		return CLI_EXIT_ERROR;
	}
	printf("%s\n", type);
	return CLI_EXIT_OK;
}

static int cli_extract(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "max-bytes", required_argument, NULL, 'm' },
		{ 0 },
	};
	uint64_t max_bytes = INITDATA_DEFAULT_MAX_BYTES;
	char esc[LOG_ESCAPED_SIZE(256)], desc[LOG_ESCAPED_SIZE(256)];
	char err[256] = "";
	_cleanup_close_ int devfd = -1, dirfd = -1;
	size_t size;
	int c, r;

	while ((c = cli_getopt(argc, argv, ":m:", opts)) != -1) {
		if (c != 'm')
			return cli_bad_option("extract", c, argv);
		if (util_parse_u64(optarg, &max_bytes) < 0 || max_bytes == 0)
			return cli_usage_error("extract", "bad --max-bytes", optarg);
	}
	if (argc - optind != 2)
		return cli_usage_error("extract", "needs DEVICE and DIR", NULL);
	const char *dev = argv[optind], *dir = argv[optind + 1];
	log_escape(esc, sizeof(esc), dev, strlen(dev));
	log_escape(desc, sizeof(desc), dir, strlen(dir));
	devfd = open(dev, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (devfd < 0) {
		log_error("extract: can't open %s: %s", esc, strerror(errno));
		return CLI_EXIT_ERROR;
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		log_error("extract: can't open directory %s: %s", desc, strerror(errno));
		return CLI_EXIT_ERROR;
	}
	r = initdata_extract_fd(devfd, dirfd, max_bytes, &size, NULL, err, sizeof(err));
	if (r < 0) {
		log_error("extract: %s: %s", esc, err[0] ? err : strerror(-r));
		return CLI_EXIT_ERROR;
	}
	printf("%s/%s\n", dir, INITDATA_FILE);
	return CLI_EXIT_OK;
}

static int cli_encode_serial(int argc, char **argv)
{
	char out[SERIAL_BYID_MAX];
	char esc[LOG_ESCAPED_SIZE(SERIAL_MAX)];
	int r;

	r = cli_no_options("encode-serial", argc, argv, 1);
	if (r)
		return r;
	const char *s = argv[optind];
	size_t len = strlen(s);
	if (len > SERIAL_MAX)
		return cli_usage_error("encode-serial", "serial longer than 255 bytes", NULL);
	log_escape(esc, sizeof(esc), s, len);
	r = serial_encode_byid(s, len, out, sizeof(out));
	if (r == -ENOENT) {
		log_error("encode-serial: serial=\"%s\" is empty or all whitespace: udev makes no by-id link", esc);
		return CLI_EXIT_NOTFOUND;
	}
	if (r == -EINVAL) {
		log_error("encode-serial: serial=\"%s\" has a \"..\" path component: udev refuses the link", esc);
		return CLI_EXIT_NOTFOUND;
	}
	if (r < 0) {
		log_error("encode-serial: %s", strerror(-r));
		return CLI_EXIT_ERROR;
	}
	printf("%s\n", out);
	return CLI_EXIT_OK;
}

/* The whole TOML document as JSON, no initdata rules: 0, or 1 when the
 * TOML is invalid or outside what the reader supports. FILE is read up to
 * the decompressed initdata cap (4 x the default initdata_max_bytes). */
static int cli_initdata_show_toml(const char *path)
{
	const size_t cap = 4 * (size_t)INITDATA_DEFAULT_MAX_BYTES;
	char esc[LOG_ESCAPED_SIZE(256)], err[TOML_ERR_MAX] = "";
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int fd = -1;
	struct toml_doc doc;
	size_t n = 0;
	int r;

	log_escape(esc, sizeof(esc), path, strnlen(path, 256));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		log_error("initdata: can't open %s: %s", esc, strerror(errno));
		return CLI_EXIT_NOTFOUND;
	}
	r = util_read_regular(fd, cap, &buf, &n);
	if (r == -EFBIG) {
		log_error("initdata: %s is larger than %zu bytes", esc, cap);
		return CLI_EXIT_NOTFOUND;
	}
	if (r < 0) {
		log_error("initdata: can't read %s: %s", esc, r == -EINVAL ? "not a regular file" : strerror(-r));
		return CLI_EXIT_NOTFOUND;
	}
	r = toml_parse(buf, n, &doc, err, sizeof(err));
	if (r < 0) {
		log_error("initdata: toml: %s", err[0] ? err : strerror(-r));
		return CLI_EXIT_NOTFOUND;
	}
	r = toml_write_json(doc.root, stdout);
	toml_free(&doc);
	if (r < 0 || fputc('\n', stdout) == EOF) {
		log_error("initdata: can't write JSON: %s", strerror(r < 0 ? -r : EIO));
		return CLI_EXIT_NOTFOUND;
	}
	return CLI_EXIT_OK;
}

/* FILE read and checked as the boot reads <dir>/initdata.toml, with the
 * bound of the default cocoinit.initdata_max_bytes. 0, or 1 with the reason
 * logged ("initdata: FILE: toml: line 3: ..."). */
static int cli_initdata_load(const char *path, struct initdata_doc *doc)
{
	char esc[LOG_ESCAPED_SIZE(256)], err[512] = "";
	_cleanup_close_ int fd = -1;
	int r;

	log_escape(esc, sizeof(esc), path, strnlen(path, 256));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		log_error("initdata: can't open %s: %s", esc, strerror(errno));
		return CLI_EXIT_NOTFOUND;
	}
	r = initdata_doc_read_fd(fd, esc, 4 * (size_t)INITDATA_DEFAULT_MAX_BYTES, doc, err, sizeof(err));
	if (r < 0) {
		log_error("initdata: %s: %s", esc, err[0] ? err : strerror(-r));
		return CLI_EXIT_NOTFOUND;
	}
	return CLI_EXIT_OK;
}

static int cli_initdata_file_index(const struct toml_node *n)
{
	for (int i = 0; i < INITDATA_DOC_NFILES; i++)
		if (n->key_len == strlen(initdata_doc_files[i]) && memcmp(n->key, initdata_doc_files[i], n->key_len) == 0)
			return i;
	return -1;
}

/* Text: TOML-like lines, every value one JSON-escaped line (host bytes never
 * reach the terminal raw), each [data] key marked written or ignored.
 * --json: {"version","algorithm","digest","data":{...},"written":[...],"ignored":[...]}. */
static int cli_initdata_show(const char *path, bool json)
{
	struct initdata_doc doc;
	char digest[INITDATA_DOC_DIGEST_STR_SIZE];
	const struct toml_node *n;
	int r = cli_initdata_load(path, &doc), w = 0;

	if (r)
		return r;
	initdata_doc_digest_str(&doc, digest, sizeof(digest));
	if (json) {
		printf("{\"version\":\"%s\",\"algorithm\":\"%s\",\"digest\":\"%s\",\"data\":{", INITDATA_DOC_VERSION,
		       digest_alg_name(doc.alg), digest);
		for (n = doc.data->child; n && w == 0; n = n->next) {
			if (n != doc.data->child)
				fputc(',', stdout);
			w = toml_write_json_string(stdout, n->key, n->key_len);
			fputc(':', stdout);
			if (w == 0)
				w = toml_write_json_string(stdout, n->str, n->str_len);
		}
		for (int pass = 0; pass < 2 && w == 0; pass++) {
			bool first = true;

			fputs(pass == 0 ? "},\"written\":[" : "],\"ignored\":[", stdout);
			for (n = doc.data->child; n && w == 0; n = n->next) {
				if ((cli_initdata_file_index(n) >= 0) != (pass == 0))
					continue;
				if (!first)
					fputc(',', stdout);
				first = false;
				w = toml_write_json_string(stdout, n->key, n->key_len);
			}
		}
		fputs("]}\n", stdout);
	} else {
		printf("version = \"%s\"\nalgorithm = \"%s\"\ndigest = \"%s\"\n[data]\n", INITDATA_DOC_VERSION,
		       digest_alg_name(doc.alg), digest);
		for (n = doc.data->child; n && w == 0; n = n->next) {
			w = toml_write_json_string(stdout, n->key, n->key_len);
			fputs(" = ", stdout);
			if (w == 0)
				w = toml_write_json_string(stdout, n->str, n->str_len);
			printf("  # %s\n", cli_initdata_file_index(n) >= 0 ? "written" : "ignored");
		}
	}
	initdata_doc_free(&doc);
	if (w < 0 || fflush(stdout) == EOF) {
		log_error("initdata: can't write the output: %s", strerror(w < 0 ? -w : EIO));
		return CLI_EXIT_ERROR;
	}
	return CLI_EXIT_OK;
}

/* The digest as the host puts it into the TEE: SNP HOST_DATA (32 bytes),
 * TDX MRCONFIGID (48), or unadjusted; hex and base64 (QEMU's host-data=
 * and mrconfigid= take base64). */
static int cli_initdata_digest(const char *path, enum tee_platform platform)
{
	struct initdata_doc doc;
	uint8_t out[DIGEST_MAX];
	char hex[DIGEST_HEX_SIZE], b64[BASE64_SIZE(DIGEST_MAX)];
	size_t len;
	int r = cli_initdata_load(path, &doc);

	if (r)
		return r;
	len = platform == TEE_NONE ? doc.digest_len : tee_launch_len(platform);
	digest_adjust(doc.digest, doc.digest_len, out, len);
	printf("platform %s\nalgorithm %s\nhex %s\nbase64 %s\n", tee_platform_name(platform), digest_alg_name(doc.alg),
	       digest_hex(hex, out, len), digest_base64(b64, out, len));
	initdata_doc_free(&doc);
	return fflush(stdout) == EOF ? CLI_EXIT_ERROR : CLI_EXIT_OK;
}

static int cli_initdata(int argc, char **argv)
{
	static const struct option show_opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "toml", no_argument, NULL, 't' },
		{ 0 },
	};
	static const struct option digest_opts[] = {
		{ "platform", required_argument, NULL, 'p' },
		{ 0 },
	};
	enum tee_platform platform = TEE_NONE;
	bool json = false, toml = false;
	int c;

	if (argc < 2)
		return cli_usage_error("initdata", "needs a subcommand", NULL);
	if (strcmp(argv[1], "show") == 0) {
		optind = 1;
		while ((c = cli_getopt(argc - 1, argv + 1, ":", show_opts)) != -1) {
			if (c == 'j')
				json = true;
			else if (c == 't')
				toml = true;
			else
				return cli_bad_option("initdata show", c, argv + 1);
		}
		if (argc - 1 - optind != 1)
			return cli_usage_error("initdata show", "needs exactly one FILE", NULL);
		if (toml && json)
			return cli_usage_error("initdata show", "--toml prints JSON already; --json is for the document",
					       NULL);
		if (toml)
			return cli_initdata_show_toml(argv[1 + optind]);
		return cli_initdata_show(argv[1 + optind], json);
	}
	if (strcmp(argv[1], "digest") == 0) {
		optind = 1;
		while ((c = cli_getopt(argc - 1, argv + 1, ":", digest_opts)) != -1) {
			if (c != 'p')
				return cli_bad_option("initdata digest", c, argv + 1);
			if (strcmp(optarg, "snp") == 0)
				platform = TEE_SNP;
			else if (strcmp(optarg, "tdx") == 0)
				platform = TEE_TDX;
			else if (strcmp(optarg, "none") == 0)
				platform = TEE_NONE;
			else
				return cli_usage_error("initdata digest", "--platform is snp, tdx or none, not", optarg);
		}
		if (argc - 1 - optind != 1)
			return cli_usage_error("initdata digest", "needs exactly one FILE", NULL);
		return cli_initdata_digest(argv[1 + optind], platform);
	}
	return cli_usage_error("initdata", "unknown subcommand", argv[1]);
}

int cli_main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} cmds[] = {
		{ "locate", cli_locate },
		{ "probe", cli_probe },
		{ "extract", cli_extract },
		{ "encode-serial", cli_encode_serial },
		{ "initdata", cli_initdata },
		{ "extension", cli_extension },
	};

	if (argc < 2) {
		fputs(cli_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(cli_usage, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("cocoinit %s\n", COCOINIT_VERSION);
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
		if (strcmp(argv[1], cmds[i].name) == 0) {
			optind = 1;
			int r = cmds[i].run(argc - 1, argv + 1);
			fflush(stdout);
			return r;
		}
	}
	return cli_usage_error(NULL, "unknown command", argv[1]);
}
