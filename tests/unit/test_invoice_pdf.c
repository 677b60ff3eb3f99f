/* test_invoice_pdf.c - billing's PDFs (invoice_pdf.c, included to reach its passes): every
   character a document draws was gathered by its first pass, whatever the layout does with
   it (wrapped, on a following page); a character drawn that was not gathered fails the
   document; the subset keeps the tables libhpdf reads and the glyphs asked for, with the
   whole font's widths; threads make PDFs at once, each as one made alone, and leave no file
   open. With --bench [N], what each step of a PDF costs, with the whole font embedded (as
   before the subset) and with the subset. The text itself is checked by
   tests/test_invoice_pdf.py (pdftotext). */
#include "check.h"
#include "../../services/billing/invoice_pdf.c"
#include <dirent.h>
#include <pthread.h>
#include <time.h>

#define FONT "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"

/* billing.c's calendar of Japan, which the PDF's dates use: UTC+9, no summer time. */
void
billing_japan_time (int64_t ms, struct tm *tm)
{
    time_t seconds = (time_t) (ms / 1000 + 9 * 3600);
    gmtime_r (&seconds, tm);
}

/* An invoice of count lines (the first long enough to wrap over several lines), two rates,
   a discount; void, paid or open as status says. */
static Kaiin__Billing__Invoice *
s_invoice (const char *status, int count)
{
    static Kaiin__Billing__InvoiceLine lines [80], *pointers [80];
    static Kaiin__Billing__TaxBreakdown taxes [2], *tax_pointers [2];
    static Kaiin__Billing__Invoice invoice;
    static char descriptions [80][400];
    kaiin__billing__invoice__init (&invoice);
    invoice.id = "7d0c8f52-3a52-4b8e-9a59-2f1e0d6c1a10";
    invoice.number = "INV-00000042";
    invoice.status = (char *) status;
    invoice.tax_mode = "exclusive";
    invoice.issuer_name = "株式会社カイイン珈琲";
    invoice.registration_number = "T1234567890123";
    invoice.issued_at_ms = 1796311800000LL;            /* 2026-12-04 00:30 JST */
    invoice.due_at_ms = invoice.issued_at_ms + 14 * DAY_MS;
    invoice.paid_at_ms = strcmp (status, "paid") == 0? invoice.issued_at_ms: 0;
    invoice.voided_at_ms = strcmp (status, "void") == 0? invoice.issued_at_ms: 0;
    invoice.period_start_ms = invoice.issued_at_ms;
    invoice.period_end_ms = invoice.issued_at_ms + 31 * DAY_MS;
    for (int i = 0; i < count; i++) {
        kaiin__billing__invoice_line__init (&lines [i]);
        if (i == 0) {
            const char *part = "年間サポート契約（オンライン講座・個別相談・教材の郵送を含む）";
            snprintf (descriptions [i], sizeof descriptions [i], "%s%s%s%s", part, part, part, part);
        }
        else
            snprintf (descriptions [i], sizeof descriptions [i], "教材 第%d巻", i);
        lines [i].description = descriptions [i];
        lines [i].quantity = 1;
        lines [i].unit_amount = lines [i].amount = 100 + i;
        lines [i].tax_rate = i % 2? 10: 8;
        lines [i].discount_amount = i == 1? 50: 0;
        pointers [i] = &lines [i];
    }
    invoice.lines = pointers;
    invoice.n_lines = (size_t) count;
    for (int i = 0; i < 2; i++) {
        kaiin__billing__tax_breakdown__init (&taxes [i]);
        taxes [i].rate = i? 8: 10;
        taxes [i].taxable_amount = 1000;
        taxes [i].tax = i? 80: 100;
        tax_pointers [i] = &taxes [i];
    }
    invoice.taxes = tax_pointers;
    invoice.n_taxes = 2;
    invoice.subtotal = 2000;
    invoice.tax_total = 180;
    invoice.total = 2180;
    return &invoice;
}

/* Lays the document out as invoice_pdf_make does, gathering then drawing: whether the drawing
   pass set only characters gathered (s_gather checks each string it sets), and into *pages how
   many pages it drew. */
static bool
s_drawn_were_gathered (const Kaiin__Billing__Invoice *invoice, const char *recipient, int64_t closing_ms,
                       bool receipt, int *pages)
{
    s_doc_t doc;
    CHECK (s_open (&doc) == 0);
    s_layout (&doc, invoice, recipient, closing_ms, receipt);
    CHECK (s_load_font (&doc) == 0);
    doc.drawing = true;
    s_layout (&doc, invoice, recipient, closing_ms, receipt);
    bool ok = !doc.missed && !doc.error;
    *pages = 0;
    while (HPDF_GetPageByIndex (doc.pdf, (HPDF_UINT) *pages))
        ++*pages;
    s_close (&doc);
    return ok;
}

static void
test_what_is_drawn_was_gathered (void)
{
    int pages = 0;
    /* one page; then 60 lines, the first wrapped: a second page, headed (続き) and the table */
    CHECK (s_drawn_were_gathered (s_invoice ("open", 3), "山田 花子", 0, false, &pages));
    CHECK (pages == 1);
    CHECK (s_drawn_were_gathered (s_invoice ("open", 60), "𠮷田 太郎", 0, false, &pages));
    CHECK (pages == 2);
    CHECK (s_drawn_were_gathered (s_invoice ("paid", 60), "高橋 美咲", 0, true, &pages));
    CHECK (pages == 2);
    CHECK (s_drawn_were_gathered (s_invoice ("void", 5), "株式会社サンプル", 1796311800000LL, false, &pages));
    CHECK (pages == 1);
}

/* A string the gathering pass did not meet is not drawn, and the document fails. */
static void
test_a_character_not_gathered_fails_the_document (void)
{
    s_doc_t doc;
    CHECK (s_open (&doc) == 0);
    s_layout (&doc, s_invoice ("open", 3), "山田 花子", 0, false);
    CHECK (s_load_font (&doc) == 0);
    doc.drawing = true;
    s_page (&doc, NULL);
    s_put (&doc, LEFT, TOP, BODY, 'l', "請求書");            /* gathered: set */
    CHECK (!doc.missed);
    s_put (&doc, LEFT, TOP, BODY, 'l', "請求書（新）");      /* 新 (U+65B0) was not */
    CHECK (doc.missed && doc.ungathered == 0x65B0);
    s_close (&doc);
}

/* A PDF of a three-line invoice: the font's subset embedded, not the whole font's tables
   (235 KB with them; 20-40 KB is a receipt's usual size). */
static void
test_a_pdf_is_small (void)
{
    size_t size = 0;
    uint8_t *pdf = invoice_pdf_make (s_invoice ("open", 3), "山田 花子", 0, false, &size);
    CHECK (pdf != NULL && memcmp (pdf, "%PDF-1.", 7) == 0);
    CHECK (size > 10000 && size < 40000);
    free (pdf);
}

/* The subset has the tables libhpdf reads and none it does not, the glyphs of the characters
   asked for (and .notdef), and the whole font's advance widths. */
static void
test_the_subset_is_what_libhpdf_needs (void)
{
    s_doc_t doc;
    CHECK (s_open (&doc) == 0);                 /* gathers H and x */
    s_gather (&doc, "\x90\xbf");                /* 請 in CP932 */
    CHECK (hb_set_get_population (doc.gathered) == 3);
    hb_blob_t *blob = s_subset (&doc);
    CHECK (blob != NULL);
    hb_face_t *face = hb_face_create (blob, 0);
    CHECK (hb_face_get_glyph_count (face) == 4);
    hb_tag_t tags [32];
    unsigned count = 32;
    hb_face_get_table_tags (face, 0, &count, tags);
    static const char *const needed [] = { "OS/2", "cmap", "cvt ", "fpgm", "glyf", "head", "hhea",
                                           "hmtx", "loca", "maxp", "name", "post", "prep" };
    CHECK (count == 13);
    for (size_t k = 0; k < 13; k++) {
        bool found = false;
        for (unsigned i = 0; i < count; i++)
            found |= tags [i] == hb_tag_from_string (needed [k], 4);
        CHECK (found);
    }
    hb_font_t *whole = hb_font_create (s_face), *part = hb_font_create (face);
    hb_codepoint_t a = 0, b = 0;
    CHECK (hb_font_get_nominal_glyph (whole, 0x8ACB, &a) && hb_font_get_nominal_glyph (part, 0x8ACB, &b));
    CHECK (b == 3 && hb_font_get_glyph_h_advance (whole, a) == hb_font_get_glyph_h_advance (part, b));
    CHECK (!hb_font_get_nominal_glyph (part, 0x65B0, &b));
    hb_font_destroy (whole);
    hb_font_destroy (part);
    hb_face_destroy (face);
    hb_blob_destroy (blob);
    s_close (&doc);
}

/* libhpdf measures text in the subset as in the whole font: the layout's widths are the
   font's. */
static void
test_widths_are_the_whole_fonts (void)
{
    const char *utf8 = "年間サポート契約（オンライン講座） 1,234円 ABCxyz ※〓";
    s_doc_t doc, whole;
    CHECK (s_open (&doc) == 0 && s_open (&whole) == 0);
    char text [sizeof doc.text];
    snprintf (text, sizeof text, "%s", s_cp932 (&doc, utf8));
    s_gather (&doc, text);
    CHECK (s_load_font (&doc) == 0);
    const char *name = HPDF_LoadTTFontFromFile (whole.pdf, FONT, HPDF_TRUE);
    whole.font = name? HPDF_GetFont (whole.pdf, name, ENCODING): NULL;
    CHECK (whole.font != NULL);
    doc.drawing = whole.drawing = true;
    CHECK (s_width (&doc, text, SMALL) > 100 && s_width (&doc, text, SMALL) == s_width (&whole, text, SMALL));
    HPDF_REAL real = 0;
    CHECK (HPDF_Font_MeasureText (doc.font, (const HPDF_BYTE *) text, (HPDF_UINT) strlen (text), 120, SMALL, 0, 0,
                                  HPDF_FALSE, &real)
           == HPDF_Font_MeasureText (whole.font, (const HPDF_BYTE *) text, (HPDF_UINT) strlen (text), 120, SMALL, 0, 0,
                                     HPDF_FALSE, &real));
    s_close (&doc);
    s_close (&whole);
}

/* How many file descriptors the process has open. */
static int
s_open_fds (void)
{
    int count = 0;
    DIR *dir = opendir ("/proc/self/fd");
    for (struct dirent *entry; dir && (entry = readdir (dir));)
        count += entry->d_name [0] != '.';
    if (dir)
        closedir (dir);
    return count - 1;                   /* less the directory's own */
}

/* A PDF made single-threaded, which each thread's PDFs must equal byte for byte. */
static const Kaiin__Billing__Invoice *s_shared_invoice;
static uint8_t *s_reference;
static size_t s_reference_size;

static void *
s_render (void *arg)
{
    int *same = arg;
    for (int i = 0; i < 10; i++) {
        size_t size = 0;
        uint8_t *pdf = invoice_pdf_make (s_shared_invoice, "𠮷田 太郎", 0, false, &size);
        *same += pdf && size == s_reference_size && memcmp (pdf, s_reference, size) == 0;
        free (pdf);
    }
    return NULL;
}

/* Four threads at once, sharing the font: each PDF as one made alone, no descriptor left. */
static void
test_threads_make_pdfs_at_once (void)
{
    s_shared_invoice = s_invoice ("open", 60);
    s_reference = invoice_pdf_make (s_shared_invoice, "𠮷田 太郎", 0, false, &s_reference_size);
    CHECK (s_reference != NULL);
    int fds = s_open_fds ();
    pthread_t threads [4];
    int same [4] = { 0 };
    for (int t = 0; t < 4; t++)
        CHECK (pthread_create (&threads [t], NULL, s_render, &same [t]) == 0);
    for (int t = 0; t < 4; t++) {
        pthread_join (threads [t], NULL);
        CHECK (same [t] == 10);
    }
    CHECK (s_open_fds () == fds);
    free (s_reference);
}

/* The process's CPU time in ms (the bench runs one thread). */
static double
s_cpu_ms (void)
{
    return (double) clock () * 1e3 / CLOCKS_PER_SEC;
}

/* Each step of a PDF of a three-line receipt, runs times, with the whole font (whole) or the
   subset; prints the least CPU time each took, in ms (the step's own cost: whatever else the
   machine runs only adds to a run), and the size. */
static void
s_bench (int runs, bool whole)
{
    enum { OPEN, GATHER, SUBSET, LOAD, GETFONT, DRAW, SAVE, STEPS };
    static const char *const names [] = { "open", "gather", "subset", "load TTF", "GetFont", "draw", "save" };
    double least [STEPS], total = 1e9;
    for (int k = 0; k < STEPS; k++)
        least [k] = 1e9;
    size_t size = 0;
    const Kaiin__Billing__Invoice *invoice = s_invoice ("paid", 3);
    for (int r = 0; r < runs; r++) {
        double at = s_cpu_ms (), started = at, now;
#define STEP(k) (now = s_cpu_ms (), least [k] = now - at < least [k]? now - at: least [k], at = now)
        s_doc_t doc;
        s_open (&doc);
        STEP (OPEN);
        s_layout (&doc, invoice, "高橋 美咲", 0, true);
        STEP (GATHER);
        const char *name = NULL;
        if (whole) {
            STEP (SUBSET);
            name = HPDF_LoadTTFontFromFile (doc.pdf, FONT, HPDF_TRUE);
        }
        else {
            hb_blob_t *blob = s_subset (&doc);
            STEP (SUBSET);
            unsigned length = 0;
            const char *data = hb_blob_get_data (blob, &length);
            int fd = memfd_create ("bench", MFD_CLOEXEC);
            CHECK (write (fd, data, length) == (ssize_t) length);
            hb_blob_destroy (blob);
            char path [64];
            snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
            name = HPDF_LoadTTFontFromFile (doc.pdf, path, HPDF_TRUE);
            close (fd);
        }
        STEP (LOAD);
        doc.font = HPDF_GetFont (doc.pdf, name, ENCODING);
        STEP (GETFONT);
        doc.drawing = true;
        s_layout (&doc, invoice, "高橋 美咲", 0, true);
        STEP (DRAW);
        uint8_t *bytes = s_bytes (&doc, &size);
        STEP (SAVE);
        CHECK (bytes != NULL && !doc.missed);
        free (bytes);
        s_close (&doc);
        if (s_cpu_ms () - started < total)
            total = s_cpu_ms () - started;
#undef STEP
    }
    printf ("%-6s font: %zu bytes; CPU ms, least of %d: all %.2f", whole? "whole": "subset", size, runs, total);
    for (int k = 0; k < STEPS; k++)
        printf (", %s %.2f", names [k], least [k]);
    printf ("\n");
}

int
main (int argc, char **argv)
{
    CHECK (invoice_pdf_init (FONT) == 0);
    if (argc > 1 && strcmp (argv [1], "--bench") == 0) {
        int runs = argc > 2? atoi (argv [2]): 50;
        s_bench (runs, true);
        s_bench (runs, false);
        return check_report ("invoice_pdf bench");
    }
    test_a_pdf_is_small ();
    test_what_is_drawn_was_gathered ();
    test_a_character_not_gathered_fails_the_document ();
    test_the_subset_is_what_libhpdf_needs ();
    test_widths_are_the_whole_fonts ();
    test_threads_make_pdfs_at_once ();
    CHECK (invoice_pdf_init ("/nonexistent/font.ttf") == -1);
    return check_report ("invoice_pdf");
}
