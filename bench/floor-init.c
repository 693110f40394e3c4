/* SPDX-License-Identifier: Apache-2.0 */
/* The floor of bench/boot: the least an init can do before the agent runs.
 * It loads the modules listed in /floor-modules (one path a line, in
 * dependency order, written by bench/boot) with finit_module() and execs the
 * agent. Nothing else: no mounts, no command line, no modules.dep. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AGENT "/usr/bin/kata-agent"

static void say(const char *what, const char *path, int err)
{
	char line[512];
	size_t n = 0;

	for (const char *parts[] = { "floor-init: ", what, " ", path, ": ", strerror(err), "\n", NULL }, **p = parts;
	     *p && n < sizeof(line); p++) {
		size_t l = strnlen(*p, sizeof(line) - n);
		memcpy(line + n, *p, l);
		n += l;
	}
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

int main(void)
{
	static char list[8192];
	char *argv[] = { AGENT, NULL };
	char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	ssize_t n = 0;
	int fd = open("/floor-modules", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, list, sizeof(list) - 1);
		close(fd);
	}
	list[n > 0 ? n : 0] = '\0';
	for (char *line = list, *nl; *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		else
			nl = line + strlen(line);
		if (!*line)
			continue;
		int mfd = open(line, O_RDONLY | O_CLOEXEC);
		if (mfd < 0) {
			say("open", line, errno);
			continue;
		}
		if (syscall(SYS_finit_module, mfd, "", 0) < 0 && errno != EEXIST)
			say("finit_module", line, errno);
		close(mfd);
	}
	execve(AGENT, argv, envp);
	say("execve", AGENT, errno);
	return 1;
}
