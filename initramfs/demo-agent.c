/* SPDX-License-Identifier: Apache-2.0 */
/* The agent of scripts/demo: shows what cocoinit handed over — the initdata
 * device and file, the guest extensions mounted, the listeners taken by
 * name, cocoinit's timing line — then powers the VM off. A stand-in for
 * kata-agent, not a test oracle. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "cocoinit/listenfds.h"

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v ? v : dflt;
}

static void show_initdata(void)
{
	const char *dir = getenv("COCOINIT_INITDATA_DIR");
	char path[512], line[256];
	FILE *f;
	int n = 0;

	printf("demo: initdata device=%s method=%s format=%s\n", env_or("COCOINIT_INITDATA_DEVICE", "(none)"),
	       env_or("COCOINIT_INITDATA_METHOD", "-"), env_or("COCOINIT_INITDATA_FORMAT", "-"));
	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/initdata.toml", dir);
	f = fopen(path, "re");
	if (!f) {
		printf("demo: %s: %s\n", path, strerror(errno));
		return;
	}
	printf("demo: %s:\n", path);
	while (fgets(line, sizeof(line), f) && n++ < 12)
		printf("demo: | %s", line);
	printf("demo: | ...\n");
	fclose(f);
}

/* Each extension in COCOINIT_EXTENSIONS: its files below /run/kata-extensions/<name>
 * and the components.toml the agent reads there. */
static void show_extensions(void)
{
	const char *list = getenv("COCOINIT_EXTENSIONS");
	char names[1024], path[512], line[256];

	printf("demo: COCOINIT_EXTENSIONS=%s\n", list ? list : "(none)");
	if (!list)
		return;
	snprintf(names, sizeof(names), "%s", list);
	for (char *save = NULL, *name = strtok_r(names, ":", &save); name; name = strtok_r(NULL, ":", &save)) {
		snprintf(path, sizeof(path), "/run/kata-extensions/%s/usr/share/%s", name, name);
		DIR *d = opendir(path);
		if (!d) {
			printf("demo: %s: %s\n", path, strerror(errno));
		} else {
			for (struct dirent *de; (de = readdir(d));)
				if (de->d_name[0] != '.')
					printf("demo: extension %s has %s/%s\n", name, path, de->d_name);
			closedir(d);
		}
		snprintf(path, sizeof(path), "/run/kata-extensions/%s/etc/kata-extensions/components.toml", name);
		FILE *f = fopen(path, "re");
		if (!f) {
			printf("demo: %s: %s\n", path, strerror(errno));
			continue;
		}
		while (fgets(line, sizeof(line), f))
			printf("demo: extension %s components.toml | %s", name, line);
		fclose(f);
	}
}

/* Connects to our own passfd listener through vsock_loopback (CID 1) before
 * accepting: the connection waits in the backlog cocoinit created. */
static void show_listeners(void)
{
	int fd = listenfds_take("passfd", AF_VSOCK, 1027);

	printf("demo: LISTEN_FDS=%s LISTEN_FDNAMES=%s\n", env_or("LISTEN_FDS", "0"), env_or("LISTEN_FDNAMES", ""));
	if (fd < 0) {
		printf("demo: no passfd listener: %s\n", strerror(-fd));
		return;
	}
	int c = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_LOCAL, .svm_port = 1027 };
	if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		printf("demo: connect to vsock 1:1027: %s\n", strerror(errno));
		return;
	}
	struct sockaddr_vm local;
	socklen_t len = sizeof(local);
	getsockname(c, (struct sockaddr *)&local, &len);

	struct listenfds_acceptor a;
	listenfds_acceptor_init(&a, fd);
	int s = listenfds_acceptor_take(&a, local.svm_port, 2000);
	if (s < 0) {
		printf("demo: no stream for peer port %u: %s\n", local.svm_port, strerror(-s));
		return;
	}
	printf("demo: passfd listener fd=%d accepted the stream of peer port %u\n", fd, local.svm_port);
	close(s);
	close(c);
	listenfds_acceptor_close(&a);
}

static void show_timing(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	char rec[1024];
	ssize_t n;

	if (fd < 0)
		return;
	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;
		rec[n] = '\0';
		char *msg = strchr(rec, ';');
		if (msg && strncmp(msg + 1, "cocoinit: timing:", 17) == 0) {
			char *nl = strchr(msg, '\n');
			if (nl)
				*nl = '\0';
			printf("demo: %s\n", msg + 1);
		}
	}
	close(fd);
}

int main(void)
{
	printf("demo: agent started as pid %d\n", getpid());
	show_initdata();
	show_extensions();
	show_listeners();
	show_timing();
	printf("demo: done, powering off\n");
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	return 1;
}
