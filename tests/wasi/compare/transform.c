/* The comparison program: `transform IN OUT` reads IN and writes OUT with
 * a 64-bit FNV-1a checksum and an Adler-32 of IN, per-line word and byte
 * counts, the lines in reverse order each reversed, and a word-frequency
 * table of the ten most frequent words (ties by name). It must give
 * byte-identical OUT natively, under wasmtime and under wasmo. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct word { char *text; int count; };

static int by_count(const void *a, const void *b) {
    const struct word *x = a, *y = b;
    if (x->count != y->count) return y->count - x->count;
    return strcmp(x->text, y->text);
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: transform IN OUT\n"); return 2; }
    FILE *in = fopen(argv[1], "rb");
    if (!in) { perror(argv[1]); return 1; }
    size_t cap = 1 << 16, len = 0;
    char *data = malloc(cap);
    size_t n;
    while ((n = fread(data + len, 1, cap - len, in)) > 0) {
        len += n;
        if (len == cap) data = realloc(data, cap *= 2);
    }
    fclose(in);
    uint64_t fnv = 0xcbf29ce484222325ull;
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < len; i++) {
        fnv = (fnv ^ (unsigned char)data[i]) * 0x100000001b3ull;
        a = (a + (unsigned char)data[i]) % 65521;
        b = (b + a) % 65521;
    }
    FILE *out = fopen(argv[2], "wb");
    if (!out) { perror(argv[2]); return 1; }
    fprintf(out, "bytes %zu fnv1a64 %016llx adler32 %08x\n", len,
            (unsigned long long)fnv, (b << 16) | a);
    /* Split into lines (the last may lack a newline). */
    size_t nlines = 0, lcap = 1024;
    char **lines = malloc(lcap * sizeof *lines);
    size_t *lens = malloc(lcap * sizeof *lens);
    for (size_t s = 0; s < len;) {
        size_t e = s;
        while (e < len && data[e] != '\n') e++;
        if (nlines == lcap) {
            lcap *= 2;
            lines = realloc(lines, lcap * sizeof *lines);
            lens = realloc(lens, lcap * sizeof *lens);
        }
        lines[nlines] = data + s;
        lens[nlines++] = e - s;
        s = e + 1;
    }
    struct word *words = NULL;
    size_t nwords = 0, wcap = 0;
    for (size_t i = 0; i < nlines; i++) {
        int count = 0;
        for (size_t j = 0; j < lens[i];) {
            while (j < lens[i] && !isalnum((unsigned char)lines[i][j])) j++;
            size_t s = j;
            while (j < lens[i] && isalnum((unsigned char)lines[i][j])) j++;
            if (j == s) continue;
            count++;
            char w[64];
            size_t wl = j - s < 63 ? j - s : 63;
            for (size_t k = 0; k < wl; k++) w[k] = tolower((unsigned char)lines[i][s + k]);
            w[wl] = 0;
            size_t k = 0;
            while (k < nwords && strcmp(words[k].text, w)) k++;
            if (k == nwords) {
                if (nwords == wcap) words = realloc(words, (wcap = wcap ? wcap * 2 : 64) * sizeof *words);
                words[nwords].text = strdup(w);
                words[nwords++].count = 0;
            }
            words[k].count++;
        }
        fprintf(out, "line %zu: %zu bytes, %d words\n", i + 1, lens[i], count);
    }
    for (size_t i = nlines; i-- > 0;) {
        for (size_t j = lens[i]; j-- > 0;) fputc(lines[i][j], out);
        fputc('\n', out);
    }
    qsort(words, nwords, sizeof *words, by_count);
    for (size_t i = 0; i < nwords && i < 10; i++)
        fprintf(out, "%6d %s\n", words[i].count, words[i].text);
    fprintf(out, "distinct words %zu, %.3f per line\n", nwords,
            nlines ? (double)nwords / (double)nlines : 0.0);
    return fclose(out) == 0 ? 0 : 1;
}
