/* SPDX-License-Identifier: MIT */
/* notify.c - the sd_notify(3) readiness protocol (include/ipnb/notify.h),
 * written against the documented socket protocol rather than libsystemd,
 * which would bring its own dependencies into every dom0. */
#include "ipnb/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int ntf_open(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len;
	int fd;

	if (!path || !*path)
		return -1;
	len = strlen(path);
	/* A path, or an abstract name, whose leading '@' stands for the NUL
	 * byte that starts it; no terminating NUL counted for the latter. */
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/'))) !=
	    0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

bool ntf_send(int fd, const char *state)
{
	if (fd < 0)
		return true;
	return send(fd, state, strlen(state), MSG_NOSIGNAL) == (ssize_t)strlen(state);
}
