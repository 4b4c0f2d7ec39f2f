/*
 * cohcheck - strong consistency between two mounts of one filesystem.
 *
 *   cohcheck DIR_A DIR_B ROUNDS
 *
 * DIR_A and DIR_B are the same directory seen through two nodes.  Each
 * round, one node (alternating) changes something the other node has
 * just looked at - so the other node holds it in its caches - and the
 * other node must see the change with its very next call, no sleep:
 *
 *   delete      stat X (cached positive), unlink on the writer, stat: ENOENT
 *   create      stat Y (cached negative), create on the writer, stat: found
 *   renameover  read K, rename a new file over K on the writer, read: new
 *               content and the new inode number
 *   chmod       stat K, chmod on the writer, stat: the new mode
 *   overwrite   read K, rewrite it in place on the writer, read: new data
 *   size        stat K, append on the writer, stat: the new size
 *   dirrename   stat D/f, rename D on the writer, stat D/f: ENOENT
 *
 * Prints one line per failure and a summary; exits 1 if any check failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long failures, checks;

static void fail(long round, const char *what, const char *fmt, ...)
{
	va_list ap;

	failures++;
	if (failures > 20)
		return;
	fprintf(stderr, "round %ld %s: ", round, what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void put(const char *path, const char *data, int flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | flags, 0644);

	if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data) ||
	    close(fd) < 0) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		exit(2);
	}
}

static ssize_t get(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n, got = 0;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf + got, size - 1 - (size_t)got)) > 0)
		got += n;
	close(fd);
	buf[got] = 0;
	return n < 0 ? -errno : got;
}

static void path(char *out, const char *dir, const char *name)
{
	if (snprintf(out, 4096, "%s/%s", dir, name) >= 4096) {
		fprintf(stderr, "path too long: %s/%s\n", dir, name);
		exit(2);
	}
}

static void round_of(long r, const char *w, const char *o)
{
	char pw[4096], po[4096], tw[4096], buf[256], want[64];
	struct stat st, sw;

	/* delete */
	path(pw, w, "x");
	path(po, o, "x");
	put(pw, "x", O_TRUNC);
	checks++;
	if (stat(po, &st) < 0)
		fail(r, "delete", "new file not seen: %s", strerror(errno));
	unlink(pw);
	checks++;
	if (stat(po, &st) == 0 || errno != ENOENT)
		fail(r, "delete", "deleted file still seen");

	/* create after a negative lookup */
	path(pw, w, "y");
	path(po, o, "y");
	checks++;
	if (stat(po, &st) == 0)
		fail(r, "create", "file seen before it exists");
	put(pw, "y", O_EXCL);
	checks++;
	if (stat(po, &st) < 0)
		fail(r, "create", "created file not seen: %s", strerror(errno));
	unlink(pw);

	/* rename over */
	path(pw, w, "k");
	path(po, o, "k");
	path(tw, w, "k.tmp");
	snprintf(want, sizeof(want), "v%ld", r);
	put(tw, want, O_TRUNC);
	get(po, buf, sizeof(buf));
	if (rename(tw, pw) < 0) {
		fprintf(stderr, "rename: %s\n", strerror(errno));
		exit(2);
	}
	stat(pw, &sw);
	checks += 2;
	if (get(po, buf, sizeof(buf)) < 0 || strcmp(buf, want))
		fail(r, "renameover", "read '%s', want '%s'", buf, want);
	if (stat(po, &st) < 0 || st.st_ino != sw.st_ino)
		fail(r, "renameover", "inode %lu, want %lu",
		     (unsigned long)st.st_ino, (unsigned long)sw.st_ino);

	/* chmod */
	stat(po, &st);
	chmod(pw, r % 2 ? 0600 : 0640);
	checks++;
	if (stat(po, &st) < 0 || (st.st_mode & 0777) != (r % 2 ? 0600u : 0640u))
		fail(r, "chmod", "mode %o", st.st_mode & 0777);

	/* overwrite in place (data of a file the other node has read) */
	get(po, buf, sizeof(buf));
	snprintf(want, sizeof(want), "w%ld", r);
	put(pw, want, O_TRUNC);
	checks++;
	if (get(po, buf, sizeof(buf)) < 0 || strcmp(buf, want))
		fail(r, "overwrite", "read '%s', want '%s'", buf, want);

	/* size after an append */
	stat(po, &st);
	put(pw, "+", O_APPEND);
	checks++;
	if (stat(po, &st) < 0 || st.st_size != (off_t)strlen(want) + 1)
		fail(r, "size", "size %ld, want %zu", (long)st.st_size,
		     strlen(want) + 1);

	/* directory rename */
	if (r % 10 == 0) {
		char d1[4096], d2[4096], f[4096];

		path(d1, w, "d1");
		path(d2, w, "d2");
		mkdir(d1, 0755);
		path(f, d1, "f");
		put(f, "f", O_TRUNC);
		path(f, o, "d1/f");
		checks++;
		if (stat(f, &st) < 0)
			fail(r, "dirrename", "d1/f not seen");
		rename(d1, d2);
		checks++;
		if (stat(f, &st) == 0)
			fail(r, "dirrename", "d1/f still seen after rename");
		path(f, o, "d2/f");
		checks++;
		if (stat(f, &st) < 0)
			fail(r, "dirrename", "d2/f not seen");
		path(f, w, "d2/f");
		unlink(f);
		rmdir(d2);
	}
}

int main(int argc, char **argv)
{
	long rounds;

	if (argc != 4) {
		fprintf(stderr, "usage: cohcheck DIR_A DIR_B ROUNDS\n");
		return 2;
	}
	rounds = atol(argv[3]);
	for (long r = 0; r < rounds; r++) {
		if (r % 2)
			round_of(r, argv[2], argv[1]);
		else
			round_of(r, argv[1], argv[2]);
	}
	printf("cohcheck: %ld rounds, %ld checks, %ld failures\n", rounds,
	       checks, failures);
	return failures ? 1 : 0;
}
