#include "table.h"

#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Spaces between two columns. */
#define COLUMN_GAP 2

struct table_column {
    char *heading;              /* owned, printable */
    enum vsw_table_align align; /* how cells are padded */
    size_t width;               /* widest cell or heading, in code points */
};

struct table_row {
    char **cells;           /* 'n_columns' cells, owned; NULL prints empty */
    size_t n_filled;        /* cells filled so far, from the left */
    char **notes;           /* owned, printable */
    size_t n_notes;         /* used entries of 'notes' */
    size_t notes_allocated; /* allocated entries of 'notes' */
};

/* Invariant: no column is added once 'n_rows' > 0, so every row has
 * exactly 'n_columns' cells. */
struct vsw_table {
    bool headings;                /* print the heading row */
    struct table_column *columns; /* 'n_columns' columns */
    size_t n_columns;             /* used entries of 'columns' */
    size_t columns_allocated;     /* allocated entries of 'columns' */
    struct table_row *rows;       /* 'n_rows' rows, in order */
    size_t n_rows;                /* used entries of 'rows' */
    size_t rows_allocated;        /* allocated entries of 'rows' */
};

static size_t
display_width(const char *s)
{
    size_t width = 0;

    for (; *s; s++) {
        /* Count every byte but UTF-8 continuation bytes. */
        if ((*s & 0xc0) != 0x80) {
            width++;
        }
    }
    return width;
}

struct vsw_table *
vsw_table_create(bool headings)
{
    struct vsw_table *table = vsw_xmalloc(sizeof *table);

    *table = (struct vsw_table){.headings = headings};
    return table;
}

void
vsw_table_destroy(struct vsw_table *table)
{
    if (!table) {
        return;
    }
    for (size_t i = 0; i < table->n_rows; i++) {
        struct table_row *row = &table->rows[i];

        for (size_t j = 0; j < table->n_columns; j++) {
            free(row->cells[j]);
        }
        free(row->cells);
        for (size_t j = 0; j < row->n_notes; j++) {
            free(row->notes[j]);
        }
        free(row->notes);
    }
    free(table->rows);
    for (size_t i = 0; i < table->n_columns; i++) {
        free(table->columns[i].heading);
    }
    free(table->columns);
    free(table);
}

void
vsw_table_add_column(struct vsw_table *table, const char *heading,
                     enum vsw_table_align align)
{
    struct table_column *column;

    assert(!table->n_rows);
    if (table->n_columns == table->columns_allocated) {
        table->columns = vsw_xgrow(table->columns, &table->columns_allocated,
                                   sizeof *table->columns);
    }
    column = &table->columns[table->n_columns++];
    column->heading = vsw_printable_dup(heading);
    column->align = align;
    column->width = table->headings ? display_width(column->heading) : 0;
}

void
vsw_table_add_row(struct vsw_table *table)
{
    struct table_row *row;

    if (table->n_rows == table->rows_allocated) {
        table->rows = vsw_xgrow(table->rows, &table->rows_allocated,
                                sizeof *table->rows);
    }
    row = &table->rows[table->n_rows++];
    *row = (struct table_row){
        .cells = vsw_xmalloc(table->n_columns * sizeof *row->cells),
    };
    for (size_t i = 0; i < table->n_columns; i++) {
        row->cells[i] = NULL;
    }
}

/* Takes ownership of 'text', which must be printable. */
static void
add_cell_nocopy(struct vsw_table *table, char *text)
{
    struct table_row *row;
    struct table_column *column;
    size_t width = display_width(text);

    assert(table->n_rows);
    row = &table->rows[table->n_rows - 1];
    assert(row->n_filled < table->n_columns);
    column = &table->columns[row->n_filled];
    row->cells[row->n_filled++] = text;
    if (width > column->width) {
        column->width = width;
    }
}

void
vsw_table_add_cell(struct vsw_table *table, const char *text)
{
    add_cell_nocopy(table, vsw_printable_dup(text));
}

void
vsw_table_add_cellf(struct vsw_table *table, const char *fmt, ...)
{
    va_list args;
    char *text;

    va_start(args, fmt);
    text = vsw_xvasprintf(fmt, args);
    va_end(args);
    vsw_table_add_cell(table, text);
    free(text);
}

void
vsw_table_add_note(struct vsw_table *table, const char *fmt, ...)
{
    struct table_row *row;
    va_list args;
    char *text;

    assert(table->n_rows);
    row = &table->rows[table->n_rows - 1];
    va_start(args, fmt);
    text = vsw_xvasprintf(fmt, args);
    va_end(args);
    if (row->n_notes == row->notes_allocated) {
        row->notes =
            vsw_xgrow(row->notes, &row->notes_allocated, sizeof *row->notes);
    }
    row->notes[row->n_notes++] = vsw_printable_dup(text);
    free(text);
}

static void
print_spaces(size_t n, FILE *stream)
{
    while (n-- > 0) {
        putc(' ', stream);
    }
}

/* Prints one line of 'cells' ('table->n_columns' of them, NULL meaning
 * empty).  Padding stops at the last non-empty cell, so no line ends in a
 * space. */
static void
print_line(const struct vsw_table *table, char *const cells[], FILE *stream)
{
    size_t last = 0;

    for (size_t i = 0; i < table->n_columns; i++) {
        if (cells[i] && cells[i][0]) {
            last = i + 1;
        }
    }
    for (size_t i = 0; i < last; i++) {
        const struct table_column *column = &table->columns[i];
        const char *text = cells[i] ? cells[i] : "";
        size_t pad = column->width - display_width(text);

        if (i > 0) {
            print_spaces(COLUMN_GAP, stream);
        }
        if (column->align == VSW_TABLE_RIGHT) {
            print_spaces(pad, stream);
        }
        fputs(text, stream);
        if (column->align == VSW_TABLE_LEFT && i + 1 < last) {
            print_spaces(pad, stream);
        }
    }
    putc('\n', stream);
}

void
vsw_table_print(const struct vsw_table *table, FILE *stream)
{
    if (table->headings) {
        char **headings = vsw_xmalloc(table->n_columns * sizeof *headings);

        for (size_t i = 0; i < table->n_columns; i++) {
            headings[i] = table->columns[i].heading;
        }
        print_line(table, headings, stream);
        free(headings);
    }
    for (size_t i = 0; i < table->n_rows; i++) {
        const struct table_row *row = &table->rows[i];

        print_line(table, row->cells, stream);
        for (size_t j = 0; j < row->n_notes; j++) {
            fprintf(stream, "%s\n", row->notes[j]);
        }
    }
}
