/* SPDX-License-Identifier: Apache-2.0 */
/* Builds temporary root trees from text manifests (see tree.h for the line
 * format) and removes them. Test support only: it trusts its manifests and
 * reports a bad line on stderr rather than guessing what was meant. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tree.h"

#define TREE_PATH_MAX 4096
#define TREE_VALUE_MAX 8192

/* Counters for PCI addresses, virtio/nvme/host indices and minor numbers:
 * unique within the process, which is all a tree needs. */
static unsigned tree_counter;

int tree_unescape(const char *src, char *out, size_t outsz)
{
	size_t o = 0;

	for (const char *p = src; *p; p++) {
		char c = *p;

		if (c == '\\') {
			p++;
			switch (*p) {
			case 'x': {
				char hex[3] = { 0 };
				char *end;
				if (!p[1] || !p[2])
					return -EINVAL;
				hex[0] = p[1];
				hex[1] = p[2];
				c = (char)strtoul(hex, &end, 16);
				if (*end)
					return -EINVAL;
				p += 2;
				break;
			}
			case '\\': c = '\\'; break;
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 's': c = ' '; break;
			case '0': c = '\0'; break;
			default: return -EINVAL;
			}
		}
		if (o + 1 >= outsz)
			return -ENOSPC;
		out[o++] = c;
	}
	out[o] = '\0';
	return (int)o;
}

/* root/rel, refusing a ".." component so a manifest stays inside its tree. */
static int tree_path(char *out, const char *root, const char *rel)
{
	for (const char *c = rel; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL) {
		if (c[0] == '.' && c[1] == '.' && (c[2] == '/' || c[2] == '\0'))
			return -EINVAL;
	}
	if (snprintf(out, TREE_PATH_MAX, "%s/%s", root, rel) >= TREE_PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* mkdir -p of root/rel: the whole path first, so that a tree of thousands
 * of disks costs one or two calls per directory, not one per component. */
static int tree_mkdir_p(const char *root, const char *rel)
{
	char path[TREE_PATH_MAX];
	size_t base = strlen(root) + 1;
	int r = tree_path(path, root, rel);

	if (r < 0)
		return r;
	if (mkdir(path, 0755) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -errno;
	for (char *p = path + base;; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;
			*p = '\0';
			if (mkdir(path, 0755) < 0 && errno != EEXIST)
				return -errno;
			*p = saved;
			if (!saved)
				break;
		}
	}
	return 0;
}

static int tree_mkdir_parent(const char *root, const char *rel)
{
	char parent[TREE_PATH_MAX];
	const char *slash = strrchr(rel, '/');

	if (!slash)
		return 0;
	snprintf(parent, sizeof(parent), "%.*s", (int)(slash - rel), rel);
	return tree_mkdir_p(root, parent);
}

static int tree_write(const char *root, const char *rel, const void *data, size_t len)
{
	char path[TREE_PATH_MAX];
	int r = tree_mkdir_parent(root, rel);

	if (r < 0 || (r = tree_path(path, root, rel)) < 0)
		return r;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (len > 0 && write(fd, data, len) != (ssize_t)len) {
		r = -errno;
		close(fd);
		return r ? r : -EIO;
	}
	close(fd);
	return 0;
}

static int tree_link(const char *root, const char *rel, const char *target)
{
	char path[TREE_PATH_MAX];
	int r = tree_mkdir_parent(root, rel);

	if (r < 0 || (r = tree_path(path, root, rel)) < 0)
		return r;
	if (symlink(target, path) < 0)
		return -errno;
	return 0;
}

static int tree_disk(const char *root, const char *name, const char *serial, size_t serial_len,
		     const char *pci, const char *content, size_t content_len)
{
	char pcibuf[32], devdir[TREE_PATH_MAX], diskdir[TREE_PATH_MAX + 64], rel[TREE_PATH_MAX * 2];
	char attr[TREE_VALUE_MAX + 8];
	unsigned n = tree_counter++;
	const char *sattr = "serial";
	size_t alen = serial_len;
	int r;

	if (!*name || strchr(name, '/'))
		return -EINVAL;
	if (!pci) {
		snprintf(pcibuf, sizeof(pcibuf), "0000:%02x:%02x.%x", 0x10 + n / 256, (n / 8) % 32, n % 8);
		pci = pcibuf;
	}
	/* Where the kernel puts the gendisk below its PCI device. */
	if (strncmp(name, "nvme", 4) == 0) {
		snprintf(devdir, sizeof(devdir), "sys/devices/pci%.7s/%s/nvme/nvme%u", pci, pci, n);
		snprintf(diskdir, sizeof(diskdir), "%s/%s", devdir, name);
		snprintf(attr, sizeof(attr), "../../nvme%u", n);
		sattr = "device/serial";
	} else if (strncmp(name, "sd", 2) == 0) {
		snprintf(devdir, sizeof(devdir), "sys/devices/pci%.7s/%s/virtio%u/host%u/target%u:0:0/%u:0:0:0", pci,
			 pci, n, n, n, n);
		snprintf(diskdir, sizeof(diskdir), "%s/block/%s", devdir, name);
		snprintf(attr, sizeof(attr), "../../../%u:0:0:0", n);
		sattr = "device/vpd_pg80";
	} else {
		snprintf(devdir, sizeof(devdir), "sys/devices/pci%.7s/%s/virtio%u", pci, pci, n);
		snprintf(diskdir, sizeof(diskdir), "%s/block/%s", devdir, name);
		snprintf(attr, sizeof(attr), "../../../virtio%u", n);
	}
	if ((r = tree_mkdir_p(root, diskdir)) < 0 || (r = tree_mkdir_p(root, devdir)) < 0)
		return r;
	/* The bus's view of the PCI device, shared by the disks below it. */
	char bus[128];
	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s", pci);
	snprintf(bus, sizeof(bus), "../../../devices/pci%.7s/%s", pci, pci);
	if ((r = tree_link(root, rel, bus)) < 0 && r != -EEXIST)
		return r;
	snprintf(rel, sizeof(rel), "%s/device", diskdir);
	if ((r = tree_link(root, rel, attr)) < 0)
		return r;
	snprintf(rel, sizeof(rel), "sys/class/block/%s", name);
	snprintf(attr, sizeof(attr), "../../%s", diskdir + 4);
	if ((r = tree_link(root, rel, attr)) < 0)
		return r;
	snprintf(rel, sizeof(rel), "%s/dev", diskdir);
	snprintf(attr, sizeof(attr), "%u:%u\n", 254 + n / 65536, n % 65536);
	if ((r = tree_write(root, rel, attr, strlen(attr))) < 0)
		return r;

	if (serial) {
		if (serial_len > TREE_VALUE_MAX - 32)
			return -E2BIG;
		if (strcmp(sattr, "device/serial") == 0) {
			/* nvme's "%.*s\n" of the space-padded 20-byte field */
			memcpy(attr, serial, serial_len);
			alen = serial_len;
			while (alen < 20)
				attr[alen++] = ' ';
			attr[alen++] = '\n';
		} else if (strcmp(sattr, "device/vpd_pg80") == 0) {
			attr[0] = 0;
			attr[1] = (char)0x80;
			attr[2] = (char)(serial_len >> 8);
			attr[3] = (char)(serial_len & 0xff);
			memcpy(attr + 4, serial, serial_len);
			alen = serial_len + 4;
		} else {
			memcpy(attr, serial, serial_len);
		}
		snprintf(rel, sizeof(rel), "sys/class/block/%s/%s", name, sattr);
		if ((r = tree_write(root, rel, attr, alen)) < 0)
			return r;
	}
	snprintf(rel, sizeof(rel), "dev/%s", name);
	return tree_write(root, rel, content ? content : "", content ? content_len : 0);
}

int tree_add_disk(const char *root, const char *name, const char *serial, size_t serial_len,
		  const char *pci)
{
	return tree_disk(root, name, serial, serial_len, pci, NULL, 0);
}

static int tree_part(const char *root, const char *name, const char *disk, const char *content,
		     size_t content_len)
{
	char path[TREE_PATH_MAX * 2], target[TREE_PATH_MAX], rel[TREE_PATH_MAX * 2];
	const char *num = name + strlen(name);
	ssize_t n;
	int r;

	snprintf(rel, sizeof(rel), "sys/class/block/%s", disk);
	if ((r = tree_path(path, root, rel)) < 0)
		return r;
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	while (num > name && num[-1] >= '0' && num[-1] <= '9')
		num--;
	/* target is "../../devices/..."; the partition sits inside the disk. */
	snprintf(rel, sizeof(rel), "sys/%s/%s/partition", target + 6, name);
	snprintf(path, sizeof(path), "%s\n", *num ? num : "1");
	if ((r = tree_write(root, rel, path, strlen(path))) < 0)
		return r;
	snprintf(rel, sizeof(rel), "sys/class/block/%s", name);
	snprintf(path, sizeof(path), "%s/%s", target, name);
	if ((r = tree_link(root, rel, path)) < 0)
		return r;
	snprintf(rel, sizeof(rel), "dev/%s", name);
	return tree_write(root, rel, content ? content : "", content ? content_len : 0);
}

/* Splits off the next space-separated word of *p (NUL-terminating it). */
static char *tree_word(char **p)
{
	char *s = *p, *w;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return NULL;
	w = s;
	while (*s && *s != ' ' && *s != '\t')
		s++;
	if (*s)
		*s++ = '\0';
	*p = s;
	return w;
}

static int tree_line(const char *root, char *line)
{
	static char value[TREE_VALUE_MAX], content[TREE_VALUE_MAX];
	char *p = line, *verb, *path;
	int r;

	verb = tree_word(&p);
	if (!verb || verb[0] == '#')
		return 0;
	path = tree_word(&p);
	if (!path)
		return -EINVAL;
	if (strcmp(verb, "dir") == 0)
		return *p ? -EINVAL : tree_mkdir_p(root, path);
	if (strcmp(verb, "file") == 0) {
		r = tree_unescape(p, value, sizeof(value));
		return r < 0 ? r : tree_write(root, path, value, (size_t)r);
	}
	if (strcmp(verb, "link") == 0) {
		char *target = tree_word(&p);
		return target && !*p ? tree_link(root, path, target) : -EINVAL;
	}
	if (strcmp(verb, "disk") == 0 || strcmp(verb, "part") == 0) {
		const char *pci = NULL, *of = NULL;
		char pcibuf[64], ofbuf[64];
		int serial_len = -1, content_len = -1;
		char *w;

		while ((w = tree_word(&p))) {
			char *eq = strchr(w, '=');
			if (!eq)
				return -EINVAL;
			*eq++ = '\0';
			if (strcmp(w, "serial") == 0)
				serial_len = tree_unescape(eq, value, sizeof(value));
			else if (strcmp(w, "content") == 0)
				content_len = tree_unescape(eq, content, sizeof(content));
			else if (strcmp(w, "pci") == 0)
				snprintf(pcibuf, sizeof(pcibuf), "%s", eq), pci = pcibuf;
			else if (strcmp(w, "of") == 0)
				snprintf(ofbuf, sizeof(ofbuf), "%s", eq), of = ofbuf;
			else
				return -EINVAL;
			if (serial_len < -1 || content_len < -1)
				return -EINVAL;
		}
		if (verb[0] == 'p')
			return of ? tree_part(root, path, of, content_len >= 0 ? content : NULL,
					      content_len >= 0 ? (size_t)content_len : 0)
				  : -EINVAL;
		return tree_disk(root, path, serial_len >= 0 ? value : NULL,
				 serial_len >= 0 ? (size_t)serial_len : 0, pci,
				 content_len >= 0 ? content : NULL, content_len >= 0 ? (size_t)content_len : 0);
	}
	return -EINVAL;
}

char *tree_new(void)
{
	const char *tmp = getenv("TMPDIR");
	char buf[TREE_PATH_MAX];

	/* tmpfs when there is one: a tree of 4096 disks takes a third of a
	 * second there and tens of seconds on a busy ext4. */
	if (!tmp || !*tmp)
		tmp = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(buf, sizeof(buf), "%s/cocoinit-tree.XXXXXX", tmp);
	if (!mkdtemp(buf))
		return NULL;
	return strdup(buf);
}

int tree_apply(const char *root, const char *manifest)
{
	const char *p = manifest;
	unsigned lineno = 0;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *line = strndup(p, n);
		int r;

		if (!line)
			return -ENOMEM;
		lineno++;
		r = tree_line(root, line);
		free(line);
		if (r < 0) {
			fprintf(stderr, "tree: line %u: %.*s: %s\n", lineno, (int)n, p, strerror(-r));
			return r;
		}
		p += n + (nl ? 1 : 0);
	}
	return 0;
}

int tree_apply_file(const char *root, const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long size;
	int r;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
		fclose(f);
		return -EIO;
	}
	buf = calloc(1, (size_t)size + 1);
	if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
		free(buf);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	r = tree_apply(root, buf);
	free(buf);
	return r;
}

char *tree_from_manifest(const char *manifest)
{
	char *root = tree_new();

	if (root && tree_apply(root, manifest) < 0) {
		tree_remove(root);
		return NULL;
	}
	return root;
}

char *tree_from_file(const char *path)
{
	char *root = tree_new();

	if (root && tree_apply_file(root, path) < 0) {
		tree_remove(root);
		return NULL;
	}
	return root;
}

int tree_open(const char *root)
{
	return open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int tree_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

void tree_remove(char *root)
{
	if (!root)
		return;
	/* Depth first, never following links out of the tree. */
	nftw(root, tree_rm_one, 64, FTW_DEPTH | FTW_PHYS);
	free(root);
}

void tree_clear(char **root)
{
	tree_remove(*root);
	*root = NULL;
}
