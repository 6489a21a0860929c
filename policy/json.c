// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Positions in a policy file. cJSON gives values but no positions, and its
 * grammar is looser than JSON (it takes "+1", "01", control bytes as
 * whitespace, and "\u0000", which would silently cut a rule string short).
 * So a policy is first scanned here as strict RFC 8259 JSON: that yields a
 * precise message for syntax errors and, per value, the offsets of its key
 * and first character, for messages about what the values mean.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct scan {
	struct ef_jdoc *d;
	const char *s;
	size_t n, i;
	size_t err_off;
	char *msg;
	size_t msglen;
};

static int scan_fail(struct scan *sc, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int scan_fail(struct scan *sc, size_t off, const char *fmt, ...)
{
	va_list ap;

	sc->err_off = off;
	va_start(ap, fmt);
	ef_vfmt(sc->msg, sc->msglen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* What stands at `off`, for "expected X, found Y". */
static const char *found(struct scan *sc, size_t off, char *buf, size_t len)
{
	unsigned char c;

	if (off >= sc->n)
		return "end of file";
	c = (unsigned char)sc->s[off];
	if (c >= 0x21 && c < 0x7f)
		ef_fmt(buf, len, "'%c'", c);
	else
		ef_fmt(buf, len, "byte 0x%02x", c);
	return buf;
}

static void skip_ws(struct scan *sc)
{
	while (sc->i < sc->n) {
		char c = sc->s[sc->i];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		sc->i++;
	}
}

static int push_tok(struct scan *sc, __u32 key, __u32 *ret_idx)
{
	struct ef_jdoc *d = sc->d;

	if (d->n_tok == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct ef_jtok *t = realloc(d->tok, cap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		d->tok = t;
		d->cap = cap;
	}
	d->tok[d->n_tok].key = key;
	d->tok[d->n_tok].off = (__u32)sc->i;
	d->tok[d->n_tok].next = 0;
	*ret_idx = (__u32)d->n_tok++;
	return 0;
}

static int hex4(const char *p, size_t avail, unsigned int *out)
{
	unsigned int v = 0;
	size_t k;

	if (avail < 4)
		return -1;
	for (k = 0; k < 4; k++) {
		char c = p[k];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned int)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static int scan_string(struct scan *sc)
{
	size_t start = sc->i;
	unsigned int cp, lo;

	sc->i++; /* the opening quote */
	for (;;) {
		unsigned char c;

		if (sc->i >= sc->n)
			return scan_fail(sc, start, "unterminated string");
		c = (unsigned char)sc->s[sc->i];
		if (c == '"') {
			sc->i++;
			return 0;
		}
		if (c < 0x20)
			return scan_fail(sc, sc->i,
					 "control character 0x%02x in string (write it escaped)", c);
		if (c != '\\') {
			sc->i++;
			continue;
		}
		if (sc->i + 1 >= sc->n)
			return scan_fail(sc, start, "unterminated string");
		c = (unsigned char)sc->s[sc->i + 1];
		if (strchr("\"\\/bfnrt", c) && c) {
			sc->i += 2;
			continue;
		}
		if (c != 'u')
			return scan_fail(sc, sc->i, "invalid escape in string");
		if (hex4(sc->s + sc->i + 2, sc->n - sc->i - 2, &cp))
			return scan_fail(sc, sc->i, "invalid \\u escape: needs 4 hex digits");
		/* a NUL would end the C string cJSON hands back, hiding the rest */
		if (cp == 0)
			return scan_fail(sc, sc->i, "\\u0000 is not allowed in strings");
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return scan_fail(sc, sc->i, "invalid \\u escape: lone low surrogate");
		if (cp >= 0xd800 && cp <= 0xdbff) {
			size_t j = sc->i + 6;

			if (j + 1 >= sc->n || sc->s[j] != '\\' || sc->s[j + 1] != 'u' ||
			    hex4(sc->s + j + 2, sc->n - j - 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
				return scan_fail(sc, sc->i,
						 "invalid \\u escape: high surrogate without low surrogate");
			sc->i += 6;
		}
		sc->i += 6;
	}
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int scan_number(struct scan *sc)
{
	size_t start = sc->i;

	if (sc->i < sc->n && sc->s[sc->i] == '-')
		sc->i++;
	if (sc->i >= sc->n || !is_digit(sc->s[sc->i]))
		return scan_fail(sc, start, "invalid number");
	if (sc->s[sc->i] == '0') {
		sc->i++;
		if (sc->i < sc->n && is_digit(sc->s[sc->i]))
			return scan_fail(sc, start, "invalid number: leading zero");
	} else {
		while (sc->i < sc->n && is_digit(sc->s[sc->i]))
			sc->i++;
	}
	if (sc->i < sc->n && sc->s[sc->i] == '.') {
		sc->i++;
		if (sc->i >= sc->n || !is_digit(sc->s[sc->i]))
			return scan_fail(sc, start, "invalid number: digits must follow '.'");
		while (sc->i < sc->n && is_digit(sc->s[sc->i]))
			sc->i++;
	}
	if (sc->i < sc->n && (sc->s[sc->i] == 'e' || sc->s[sc->i] == 'E')) {
		sc->i++;
		if (sc->i < sc->n && (sc->s[sc->i] == '+' || sc->s[sc->i] == '-'))
			sc->i++;
		if (sc->i >= sc->n || !is_digit(sc->s[sc->i]))
			return scan_fail(sc, start, "invalid number: bad exponent");
		while (sc->i < sc->n && is_digit(sc->s[sc->i]))
			sc->i++;
	}
	return 0;
}

static int scan_literal(struct scan *sc, const char *word)
{
	size_t k = strlen(word);

	if (sc->n - sc->i < k || memcmp(sc->s + sc->i, word, k))
		return scan_fail(sc, sc->i, "invalid literal (expected true, false or null)");
	sc->i += k;
	return 0;
}

static int scan_value(struct scan *sc, __u32 key, int depth);

/* At the end of the file the opener is what the reader needs to find. */
static int unclosed(struct scan *sc, size_t open)
{
	int line, col;

	ef_json_pos(sc->d, open, &line, &col);
	return scan_fail(sc, sc->n, "unexpected end of file: '%c' at %d:%d is not closed",
			 sc->s[open], line, col);
}

/* Object and array share the loop: only the member syntax differs. */
static int scan_container(struct scan *sc, int depth)
{
	bool object = sc->s[sc->i] == '{';
	char close = object ? '}' : ']';
	size_t open = sc->i;
	char fb[16];
	int err;

	if (depth >= EF_JSON_MAX_DEPTH)
		return scan_fail(sc, sc->i, "nesting deeper than %d levels", EF_JSON_MAX_DEPTH);
	sc->i++;
	skip_ws(sc);
	if (sc->i < sc->n && sc->s[sc->i] == close) {
		sc->i++;
		return 0;
	}
	for (;;) {
		__u32 key = EF_JNOKEY;

		skip_ws(sc);
		if (object) {
			if (sc->i >= sc->n)
				return unclosed(sc, open);
			if (sc->s[sc->i] != '"')
				return scan_fail(sc, sc->i, "expected a string key, found %s%s",
						 found(sc, sc->i, fb, sizeof(fb)),
						 sc->s[sc->i] == '}' ? " (trailing comma?)" : "");
			key = (__u32)sc->i;
			err = scan_string(sc);
			if (err)
				return err;
			skip_ws(sc);
			if (sc->i >= sc->n || sc->s[sc->i] != ':')
				return scan_fail(sc, sc->i, "expected ':' after key, found %s",
						 found(sc, sc->i, fb, sizeof(fb)));
			sc->i++;
			skip_ws(sc);
		} else if (sc->i < sc->n && sc->s[sc->i] == ']') {
			return scan_fail(sc, sc->i,
					 "expected a value, found ']' (trailing comma?)");
		}
		err = scan_value(sc, key, depth + 1);
		if (err)
			return err;
		skip_ws(sc);
		if (sc->i >= sc->n)
			return unclosed(sc, open);
		if (sc->s[sc->i] == close) {
			sc->i++;
			return 0;
		}
		if (sc->s[sc->i] != ',')
			return scan_fail(sc, sc->i, "expected ',' or '%c', found %s", close,
					 found(sc, sc->i, fb, sizeof(fb)));
		sc->i++;
	}
}

static int scan_value(struct scan *sc, __u32 key, int depth)
{
	__u32 idx;
	char fb[16];
	int err;

	if (sc->i >= sc->n)
		return scan_fail(sc, sc->i, "unexpected end of file: expected a value");
	err = push_tok(sc, key, &idx);
	if (err)
		return err;
	switch (sc->s[sc->i]) {
	case '{':
	case '[':
		err = scan_container(sc, depth);
		break;
	case '"':
		err = scan_string(sc);
		break;
	case 't':
		err = scan_literal(sc, "true");
		break;
	case 'f':
		err = scan_literal(sc, "false");
		break;
	case 'n':
		err = scan_literal(sc, "null");
		break;
	default:
		if (sc->s[sc->i] == '-' || is_digit(sc->s[sc->i]))
			err = scan_number(sc);
		else
			err = scan_fail(sc, sc->i, "expected a value, found %s",
					found(sc, sc->i, fb, sizeof(fb)));
	}
	if (err)
		return err;
	sc->d->tok[idx].next = (__u32)sc->d->n_tok;
	return 0;
}

int ef_json_scan(struct ef_jdoc *d, const char *text, size_t len, size_t *ret_off, char *msg,
		 size_t msglen)
{
	struct scan sc = { .d = d, .s = text, .n = len, .msg = msg, .msglen = msglen };
	char fb[16];
	int err;

	memset(d, 0, sizeof(*d));
	d->text = text;
	d->len = len;
	d->cur_line = d->cur_col = 1;
	/* offsets are stored in 32 bits; policies are far smaller */
	if (len >= EF_JNOKEY)
		return -EFBIG;
	/* cJSON skips a UTF-8 byte order mark too */
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		sc.i = 3;
	skip_ws(&sc);
	if (sc.i >= len) {
		err = scan_fail(&sc, 0, "empty file");
		goto out;
	}
	err = scan_value(&sc, EF_JNOKEY, 0);
	if (err)
		goto out;
	skip_ws(&sc);
	if (sc.i < len)
		err = scan_fail(&sc, sc.i, "unexpected %s after the end of the JSON value",
				found(&sc, sc.i, fb, sizeof(fb)));
out:
	*ret_off = sc.err_off;
	return err;
}

void ef_json_fini(struct ef_jdoc *d)
{
	free(d->tok);
	d->tok = NULL;
	d->n_tok = d->cap = 0;
}

void ef_json_pos(struct ef_jdoc *d, size_t off, int *line, int *col)
{
	size_t i;

	if (off > d->len)
		off = d->len;
	/* restart from the top when asked about an earlier offset */
	if (off < d->cur_off) {
		d->cur_off = 0;
		d->cur_line = d->cur_col = 1;
	}
	for (i = d->cur_off; i < off; i++) {
		unsigned char c = (unsigned char)d->text[i];

		if (c == '\n') {
			d->cur_line++;
			d->cur_col = 1;
		} else if ((c & 0xc0) != 0x80) {
			/* UTF-8 continuation bytes belong to the previous character */
			d->cur_col++;
		}
	}
	d->cur_off = off;
	*line = d->cur_line;
	*col = d->cur_col;
}

size_t ef_json_str_off(const struct ef_jdoc *d, size_t quote, size_t idx)
{
	const char *s = d->text;
	size_t i = quote + 1, dec = 0;

	while (i < d->len && s[i] != '"') {
		size_t raw = 1, out = 1;
		unsigned int cp;

		if (s[i] == '\\' && i + 1 < d->len) {
			raw = 2;
			if (s[i + 1] == 'u' && !hex4(s + i + 2, d->len - i - 2, &cp)) {
				raw = 6;
				if (cp >= 0xd800 && cp <= 0xdbff) {
					raw = 12;
					out = 4;
				} else {
					out = cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3;
				}
			}
		}
		if (idx < dec + out)
			return i;
		dec += out;
		i += raw;
	}
	return i;
}
