/*
 * Aligned text tables for people: each column as wide as its widest cell,
 * columns two spaces apart, an optional heading row, never a trailing
 * space.  A row may carry notes: free-form lines printed under it that
 * take no part in the alignment.
 *
 * Cells, headings and notes are copied with control characters replaced,
 * so text from the daemon cannot drive the terminal.  Widths count UTF-8
 * code points, which is exact for the ASCII names a switch has.
 */
#ifndef VSW_TABLE_H
#define VSW_TABLE_H 1

#include <stdbool.h>
#include <stdio.h>

enum vsw_table_align {
    VSW_TABLE_LEFT,  /* text, padded on the right */
    VSW_TABLE_RIGHT, /* numbers, padded on the left */
};

struct vsw_table;

/* Returns a new, empty table that prints a heading row if 'headings'.  The
 * caller frees it with vsw_table_destroy(). */
struct vsw_table *vsw_table_create(bool headings);

/* Frees 'table'.  NULL is allowed. */
void vsw_table_destroy(struct vsw_table *table);

/* Appends a column titled 'heading' (copied).  Columns must all be added
 * before the first row. */
void vsw_table_add_column(struct vsw_table *table, const char *heading,
                          enum vsw_table_align align);

/* Starts a new row; the cells added next fill it from the left.  Cells
 * not filled print as empty. */
void vsw_table_add_row(struct vsw_table *table);

/* Fills the next cell of the current row with 'text' (copied), or with
 * the printf-style 'fmt'. */
void vsw_table_add_cell(struct vsw_table *table, const char *text);
void vsw_table_add_cellf(struct vsw_table *table, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Attaches a note line, formatted as by printf, under the current row. */
void vsw_table_add_note(struct vsw_table *table, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes 'table' to 'stream'. */
void vsw_table_print(const struct vsw_table *table, FILE *stream);

#endif /* VSW_TABLE_H */
