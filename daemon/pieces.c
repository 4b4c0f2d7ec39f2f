/*
 * pieces.c - scattered writes of one write-back buffer (see pieces.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pieces.h"

/* The first piece ending after @off. */
static unsigned wp_find(const struct wpieces *s, uint64_t off)
{
	unsigned lo = 0, hi = s->n;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (s->x[mid].off + s->x[mid].len <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int wp_room(struct wpieces *s, unsigned more)
{
	struct wpiece *nx;
	unsigned cap;

	if (s->n + more <= s->cap)
		return 0;
	cap = s->cap ? s->cap : 16;
	while (cap < s->n + more)
		cap *= 2;
	nx = realloc(s->x, cap * sizeof(*nx));
	if (!nx)
		return -ENOMEM;
	s->x = nx;
	s->cap = cap;
	return 0;
}

int wp_punch(struct wpieces *s, uint64_t off, size_t len)
{
	uint64_t end = off + len;
	unsigned i = wp_find(s, off);

	if (len == 0)
		return 0;
	while (i < s->n && s->x[i].off < end) {
		struct wpiece *p = &s->x[i];
		uint64_t pe = p->off + p->len;

		if (p->off < off && pe > end) { /* inside one: split it */
			char *tail = malloc(pe - end);

			if (!tail || wp_room(s, 1) < 0) {
				free(tail);
				return -ENOMEM;
			}
			p = &s->x[i];
			memcpy(tail, p->buf + (end - p->off), pe - end);
			memmove(&s->x[i + 2], &s->x[i + 1],
				(s->n - i - 1) * sizeof(*p));
			s->x[i + 1] = (struct wpiece){end, pe - end, tail};
			s->n++;
			p->len = off - p->off;
			s->bytes -= len;
			return 0;
		}
		if (p->off < off) { /* keep its head */
			s->bytes -= pe - off;
			p->len = off - p->off;
			i++;
		} else if (pe > end) { /* keep its tail */
			memmove(p->buf, p->buf + (end - p->off), pe - end);
			s->bytes -= end - p->off;
			p->len = pe - end;
			p->off = end;
			i++;
		} else { /* all of it */
			s->bytes -= p->len;
			free(p->buf);
			memmove(p, p + 1, (s->n - i - 1) * sizeof(*p));
			s->n--;
		}
	}
	return 0;
}

int wp_put(struct wpieces *s, uint64_t off, const char *buf, size_t len)
{
	unsigned i;
	char *b;
	int ret;

	if (len == 0)
		return 0;
	ret = wp_punch(s, off, len);
	if (ret < 0)
		return ret;
	i = wp_find(s, off);
	if (i > 0 && s->x[i - 1].off + s->x[i - 1].len == off) {
		struct wpiece *p = &s->x[i - 1]; /* grow the one before */

		b = realloc(p->buf, p->len + len);
		if (!b)
			return -ENOMEM;
		memcpy(b + p->len, buf, len);
		p->buf = b;
		p->len += len;
	} else {
		if (wp_room(s, 1) < 0 || !(b = malloc(len)))
			return -ENOMEM;
		memcpy(b, buf, len);
		memmove(&s->x[i + 1], &s->x[i], (s->n - i) * sizeof(s->x[0]));
		s->x[i] = (struct wpiece){off, len, b};
		s->n++;
	}
	s->bytes += len;
	return 0;
}

uint64_t wp_end(const struct wpieces *s)
{
	return s->n ? s->x[s->n - 1].off + s->x[s->n - 1].len : 0;
}

void wp_overlay(const struct wpieces *s, uint64_t off, char *buf, size_t len)
{
	uint64_t end = off + len;

	for (unsigned i = wp_find(s, off); i < s->n && s->x[i].off < end; i++) {
		const struct wpiece *p = &s->x[i];
		uint64_t a = p->off > off ? p->off : off;
		uint64_t b = p->off + p->len < end ? p->off + p->len : end;

		memcpy(buf + (a - off), p->buf + (a - p->off), b - a);
	}
}

void wp_free(struct wpieces *s)
{
	for (unsigned i = 0; i < s->n; i++)
		free(s->x[i].buf);
	free(s->x);
	memset(s, 0, sizeof(*s));
}
