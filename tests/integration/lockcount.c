/*
 * lockcount - increment a decimal counter in a shared file N times under a
 * lock, like PHP's session handler (lock, pread, pwrite, unlock).
 *
 *   lockcount flock|fcntl|none reopen|keep FILE N
 *
 * "reopen" opens and closes the file around each increment; "keep" keeps
 * one descriptor for the whole run (the lock alone must make the previous
 * holder's write visible).  Build: gcc -O2 -o lockcount lockcount.c
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static void lk(int fd, const char *mode, int type)
{
	if (!strcmp(mode, "flock")) {
		if (flock(fd, type == F_UNLCK ? LOCK_UN : LOCK_EX) < 0) {
			perror("flock");
			exit(1);
		}
	} else if (!strcmp(mode, "fcntl")) {
		struct flock fl = {.l_type = (short)type, .l_whence = SEEK_SET};

		if (fcntl(fd, F_SETLKW, &fl) < 0) {
			perror("fcntl");
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	int fd = -1, n;
	bool keep;

	if (argc != 5) {
		fprintf(stderr, "usage: lockcount flock|fcntl|none "
				"reopen|keep FILE N\n");
		return 2;
	}
	keep = !strcmp(argv[2], "keep");
	n = atoi(argv[4]);
	for (int i = 0; i < n; i++) {
		char buf[32] = "";
		ssize_t r;
		long v;

		if (fd < 0 && (fd = open(argv[3], O_RDWR)) < 0) {
			perror("open");
			return 1;
		}
		lk(fd, argv[1], F_WRLCK);
		r = pread(fd, buf, sizeof(buf) - 1, 0);
		if (r < 0) {
			perror("pread");
			return 1;
		}
		buf[r] = 0;
		v = strtol(buf, NULL, 10);
		r = snprintf(buf, sizeof(buf), "%ld\n", v + 1);
		if (pwrite(fd, buf, (size_t)r, 0) != r) {
			perror("pwrite");
			return 1;
		}
		lk(fd, argv[1], F_UNLCK);
		if (!keep) {
			close(fd);
			fd = -1;
		}
	}
	return 0;
}
