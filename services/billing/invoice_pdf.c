/* invoice_pdf.c - an invoice, or the receipt (領収書) of a paid one, as a PDF laid out as a
   適格請求書: libhpdf, with a subset of a Japanese TrueType font embedded (HarfBuzz's subsetter:
   the glyphs the document uses)

   Each document is laid out twice by the same functions. The first pass, gathering, draws
   nothing: every string it would set goes through s_put_cp932, which adds its characters to
   the document's set; where the layout's choices depend on widths (where a line wraps, whether
   a page breaks) it takes every branch (the whole text, the following page's head). The font
   loaded at start is then subset to those characters, handed to libhpdf, and the second pass
   draws for real, measuring with that font. A string the second pass would set with a
   character the first did not gather fails the document (logged) rather than show a blank. */
#include "invoice_pdf.h"
#include "log.h"
#include <errno.h>
#include <hb-subset.h>
#include <hb.h>
#include <hpdf.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A4 portrait, in points; text runs between the margins and stops above the bottom. */
#define PAGE_WIDTH  595.28f
#define PAGE_HEIGHT 841.89f
#define LEFT        50.0f
#define RIGHT       545.0f
#define TOP         790.0f
#define BOTTOM      80.0f
#define SMALL       9.0f            /* the table, the notes */
#define BODY        10.5f
#define LEADING     15.0f
/* The table's columns: the description from LEFT, the numbers right-aligned at these. */
#define DESCRIPTION_WIDTH 265.0f
#define QUANTITY_RIGHT    365.0f
#define UNIT_RIGHT        450.0f
#define LINE_WRAPS_MAX    6
/* libhpdf's CID encoding of the font: Shift_JIS as Windows writes it (CP932), whose
   characters are Adobe-Japan1's, so that readers map them back to Unicode; its proportional
   variant, whose ASCII CIDs read back as ASCII (the monospaced ones' '-' reads as U+2011). */
#define ENCODING    "90msp-RKSJ-H"
#define GETA        "\x81\xac"      /* 〓 in CP932 */

/* The whole font, read once at start and shared by every thread: HarfBuzz's objects may be
   used from several threads once set up and made immutable ("Object lifecycle management",
   harfbuzz.github.io/object-model-lifecycle.html); the subsetter only reads it. */
static hb_face_t *s_face;
/* The font's tables libhpdf's TrueType loader does not read (hpdf_fontdef_tt.c embeds OS/2,
   cmap, cvt, fpgm, glyf, head, hhea, hmtx, loca, maxp, name, post and prep, and fails on a
   font without them): dropped from each subset, which also spares the subsetter GSUB's
   closure. */
static hb_tag_t s_drop [64];
static unsigned s_drop_count;

typedef struct {
    HPDF_Doc pdf;
    HPDF_Encoder encoder;           /* CP932 codes to Unicode, as libhpdf maps them */
    HPDF_Page page;                 /* NULL while gathering */
    HPDF_Font font;                 /* the subset, loaded for the drawing pass */
    hb_set_t *gathered;             /* the characters (Unicode) the gathering pass met */
    bool drawing;                   /* false: the gathering pass */
    bool missed;                    /* drawing met a character not gathered: */
    hb_codepoint_t ungathered;      /* the first such */
    iconv_t cp932;
    float y;                        /* the next line's baseline */
    HPDF_STATUS error, detail;      /* libhpdf's first error */
    char text [1024];               /* the last text converted to CP932 */
} s_doc_t;

static void
s_on_error (HPDF_STATUS error, HPDF_STATUS detail, void *data)
{
    s_doc_t *doc = data;
    if (!doc->error) {
        doc->error = error;
        doc->detail = detail;
    }
}

/* Opens a document, with its set of characters, for the gathering pass. 0, or -1 with
   doc->error set. */
static int
s_open (s_doc_t *doc)
{
    memset (doc, 0, sizeof *doc);
    doc->cp932 = (iconv_t) -1;
    doc->gathered = hb_set_create ();
    doc->pdf = HPDF_New (s_on_error, doc);
    if (!doc->pdf || !hb_set_allocation_successful (doc->gathered)) {
        doc->error = HPDF_FAILD_TO_ALLOC_MEM;
        return -1;
    }
    HPDF_SetCompressionMode (doc->pdf, HPDF_COMP_ALL);
    HPDF_UseJPEncodings (doc->pdf);
    doc->encoder = HPDF_GetEncoder (doc->pdf, ENCODING);
    doc->cp932 = iconv_open ("CP932", "UTF-8");
    if (doc->cp932 == (iconv_t) -1 && !doc->error)
        doc->error = HPDF_INVALID_ENCODER;
    /* libhpdf reads the font's cap and x heights from these two glyphs: kept, so that the
       font's descriptor says what the whole font's would */
    hb_set_add (doc->gathered, 'H');
    hb_set_add (doc->gathered, 'x');
    return doc->encoder && !doc->error? 0: -1;
}

static void
s_close (s_doc_t *doc)
{
    if (doc->cp932 != (iconv_t) -1)
        iconv_close (doc->cp932);
    if (doc->pdf)
        HPDF_Free (doc->pdf);           /* closes the font's file too */
    hb_set_destroy (doc->gathered);
}

/* The font subset to the characters gathered, as a TrueType file's bytes. NULL on error. */
static hb_blob_t *
s_subset (s_doc_t *doc)
{
    hb_subset_input_t *input = hb_subset_input_create_or_fail ();
    if (!input)
        return NULL;
    hb_set_union (hb_subset_input_unicode_set (input), doc->gathered);
    hb_set_t *drop = hb_subset_input_set (input, HB_SUBSET_SETS_DROP_TABLE_TAG);
    for (unsigned i = 0; i < s_drop_count; i++)
        hb_set_add (drop, s_drop [i]);
    /* the outline of .notdef too: a character the font lacks shows it, as with the whole font */
    hb_subset_input_set_flags (input, HB_SUBSET_FLAGS_NOTDEF_OUTLINE);
    hb_face_t *subset = hb_subset_or_fail (s_face, input);
    hb_subset_input_destroy (input);
    hb_blob_t *blob = subset? hb_face_reference_blob (subset): NULL;
    hb_face_destroy (subset);
    if (blob && hb_blob_get_length (blob) == 0) {
        hb_blob_destroy (blob);
        blob = NULL;
    }
    return blob;
}

/* Loads the font subset to what the gathering pass met into the document: libhpdf reads
   TrueType only from a file, so the subset is written to an anonymous one in memory
   (memfd_create: nothing on disk, gone when libhpdf closes it at HPDF_Free) and opened by its
   /proc/self/fd path. 0, or -1 with doc->error set. */
static int
s_load_font (s_doc_t *doc)
{
    hb_blob_t *blob = s_subset (doc);
    if (!blob) {
        doc->error = HPDF_TTF_INVALID_FOMAT;
        return -1;
    }
    unsigned length = 0;
    const char *data = hb_blob_get_data (blob, &length);
    int fd = memfd_create ("kaiin-pdf-font", MFD_CLOEXEC);
    size_t done = 0;
    while (fd != -1 && done < length) {
        ssize_t wrote = write (fd, data + done, length - done);
        if (wrote <= 0)
            break;
        done += (size_t) wrote;
    }
    hb_blob_destroy (blob);
    if (fd == -1 || done < length) {
        if (fd != -1)
            close (fd);
        doc->error = HPDF_FILE_IO_ERROR;
        return -1;
    }
    char path [64];
    snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
    const char *name = HPDF_LoadTTFontFromFile (doc->pdf, path, HPDF_TRUE);
    close (fd);                         /* libhpdf holds a descriptor of its own */
    doc->font = name? HPDF_GetFont (doc->pdf, name, ENCODING): NULL;
    if (!doc->font && !doc->error)
        doc->error = HPDF_INVALID_FONT_NAME;
    return doc->font && !doc->error? 0: -1;
}

/* Records the tags of the face's tables libhpdf does not read. */
static void
s_drop_tables (void)
{
    static const char *const kept [] = { "OS/2", "cmap", "cvt ", "fpgm", "glyf", "head", "hhea",
                                         "hmtx", "loca", "maxp", "name", "post", "prep" };
    hb_tag_t tags [64];
    unsigned count = sizeof tags / sizeof tags [0];
    hb_face_get_table_tags (s_face, 0, &count, tags);
    s_drop_count = 0;
    for (unsigned i = 0; i < count; i++) {
        bool keep = false;
        for (size_t k = 0; k < sizeof kept / sizeof kept [0]; k++)
            keep |= tags [i] == hb_tag_from_string (kept [k], 4);
        if (!keep)
            s_drop [s_drop_count++] = tags [i];
    }
}

int
invoice_pdf_init (const char *font_path)
{
    hb_face_destroy (s_face);
    hb_blob_t *blob = hb_blob_create_from_file_or_fail (font_path);     /* mapped, not read */
    bool readable = blob != NULL;
    s_face = readable? hb_face_create (blob, 0): NULL;
    hb_blob_destroy (blob);             /* the face holds it */
    if (!s_face || hb_face_get_glyph_count (s_face) == 0) {
        hb_face_destroy (s_face);
        s_face = NULL;
        return log_error ("cannot read the PDF font '%s': %s", font_path,
                          readable? "not a font": "no such file, or unreadable");
    }
    hb_face_make_immutable (s_face);
    s_drop_tables ();
    /* a document of a few characters, as a check that libhpdf loads the font's subsets */
    s_doc_t doc;
    int rc = s_open (&doc);
    if (rc == 0) {
        hb_set_add (doc.gathered, 0x8ACB);                  /* 請 */
        rc = s_load_font (&doc);
    }
    if (rc == -1)
        log_error ("cannot load the PDF font '%s': libhpdf error 0x%04X (detail %u); it must be a"
                   " TrueType-outline font (.ttf) with the Japanese characters, such as"
                   " fonts-ipafont-gothic's ipag.ttf", font_path, (unsigned) doc.error,
                   (unsigned) doc.detail);
    s_close (&doc);
    return rc;
}

/* utf8 in CP932, into doc->text (cut at its size): a character CP932 lacks becomes 〓. */
static const char *
s_cp932 (s_doc_t *doc, const char *utf8)
{
    char *in = (char *) utf8, *out = doc->text;
    size_t in_left = strlen (utf8), out_left = sizeof doc->text - 1;
    iconv (doc->cp932, NULL, NULL, NULL, NULL);
    while (in_left > 0 && iconv (doc->cp932, &in, &in_left, &out, &out_left) == (size_t) -1) {
        if (errno != EILSEQ || out_left < 2)
            break;                      /* no room left, or a sequence cut short at the end */
        size_t skip = 1;
        while (skip < in_left && ((unsigned char) in [skip] & 0xC0) == 0x80)
            skip++;
        in += skip;
        in_left -= skip;
        memcpy (out, GETA, 2);
        out += 2;
        out_left -= 2;
    }
    *out = 0;
    return doc->text;
}

/* The Unicode character of the CP932 character at *at in text, as libhpdf maps it (its
   encoder, whose table also picks the glyph: CIDToGIDMap); moves *at past it. A lead byte is
   one of CP932's, 0x81-0x9F and 0xE0-0xFC, as the encoder's. */
static hb_codepoint_t
s_unicode (s_doc_t *doc, const char *text, size_t *at)
{
    unsigned code = (unsigned char) text [(*at)++];
    if (((code >= 0x81 && code <= 0x9F) || (code >= 0xE0 && code <= 0xFC)) && text [*at])
        code = code << 8 | (unsigned char) text [(*at)++];
    return HPDF_Encoder_GetUnicode (doc->encoder, (HPDF_UINT16) code);
}

/* Gathering, adds text's characters to the document's set; drawing, checks that each was
   gathered (doc->missed, and doc->ungathered the first that was not). Whether text may be
   drawn. */
static bool
s_gather (s_doc_t *doc, const char *text)
{
    for (size_t at = 0; text [at];) {
        hb_codepoint_t unicode = s_unicode (doc, text, &at);
        if (!doc->drawing)
            hb_set_add (doc->gathered, unicode);
        else
        if (!hb_set_has (doc->gathered, unicode)) {
            if (!doc->missed)
                doc->ungathered = unicode;
            doc->missed = true;
            return false;
        }
    }
    return doc->drawing;
}

/* The width of CP932 text at size, in points (0 while gathering: no font yet). */
static float
s_width (s_doc_t *doc, const char *text, float size)
{
    if (!doc->drawing)
        return 0;
    HPDF_TextWidth width = HPDF_Font_TextWidth (doc->font, (const HPDF_BYTE *) text, (HPDF_UINT) strlen (text));
    return width.width * size / 1000.0f;
}

/* Sets CP932 text at (x, y): x is its left edge for align 'l', its right for 'r', its
   middle for 'c'. Every string the document shows goes through here: gathering, it only
   notes the characters. */
static void
s_put_cp932 (s_doc_t *doc, float x, float y, float size, char align, const char *text)
{
    if (!*text || !s_gather (doc, text))
        return;
    float width = align == 'l'? 0: s_width (doc, text, size);
    HPDF_Page_BeginText (doc->page);
    HPDF_Page_SetFontAndSize (doc->page, doc->font, size);
    HPDF_Page_TextOut (doc->page, align == 'r'? x - width: align == 'c'? x - width / 2: x, y, text);
    HPDF_Page_EndText (doc->page);
}

static void
s_put (s_doc_t *doc, float x, float y, float size, char align, const char *utf8)
{
    s_put_cp932 (doc, x, y, size, align, s_cp932 (doc, utf8));
}

static void
s_rule (s_doc_t *doc, float from, float to, float y, float width)
{
    if (!doc->drawing)
        return;
    HPDF_Page_SetLineWidth (doc->page, width);
    HPDF_Page_MoveTo (doc->page, from, y);
    HPDF_Page_LineTo (doc->page, to, y);
    HPDF_Page_Stroke (doc->page);
}

/* "1,234円" into buffer. */
static const char *
s_yen (int64_t amount, char buffer [40])
{
    char digits [24];
    int length = snprintf (digits, sizeof digits, "%lld", (long long) (amount < 0? -amount: amount));
    char *out = buffer;
    if (amount < 0)
        *out++ = '-';
    for (int i = 0; i < length; i++) {
        if (i > 0 && (length - i) % 3 == 0)
            *out++ = ',';
        *out++ = digits [i];
    }
    snprintf (out, 40 - (out - buffer), "円");
    return buffer;
}

/* "2026年12月4日", the day of ms in Japan, into buffer ("" for 0). */
static const char *
s_date (int64_t ms, char buffer [40])
{
    *buffer = 0;
    if (ms) {
        struct tm tm;
        billing_japan_time (ms, &tm);
        snprintf (buffer, 40, "%d年%d月%d日", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    }
    return buffer;
}

/* Starts a page (gathering, only its text); the following ones say whose continuation they
   are. */
static void
s_page (s_doc_t *doc, const Kaiin__Billing__Invoice *invoice)
{
    if (doc->drawing) {
        doc->page = HPDF_AddPage (doc->pdf);
        HPDF_Page_SetWidth (doc->page, PAGE_WIDTH);
        HPDF_Page_SetHeight (doc->page, PAGE_HEIGHT);
    }
    doc->y = TOP;
    if (invoice) {
        char line [160];
        snprintf (line, sizeof line, "%s（続き）", invoice->number);
        s_put (doc, RIGHT, doc->y, SMALL, 'r', line);
        doc->y -= 2 * LEADING;
    }
}

static void
s_table_head (s_doc_t *doc, const Kaiin__Billing__Invoice *invoice)
{
    bool inclusive = strcmp (invoice->tax_mode, "inclusive") == 0;
    s_rule (doc, LEFT, RIGHT, doc->y + LEADING - 3, 0.8f);
    s_put (doc, LEFT, doc->y, SMALL, 'l', "品目");
    s_put (doc, QUANTITY_RIGHT, doc->y, SMALL, 'r', "数量");
    s_put (doc, UNIT_RIGHT, doc->y, SMALL, 'r', "単価");
    s_put (doc, RIGHT, doc->y, SMALL, 'r', inclusive? "金額（税込）": "金額（税抜）");
    s_rule (doc, LEFT, RIGHT, doc->y - 5, 0.5f);
    doc->y -= LEADING + 2;
}

/* Starts a new page (with the table's head again when head) unless this one has room for
   height more; gathering, as if it had none (the following page's text is gathered). */
static void
s_room (s_doc_t *doc, const Kaiin__Billing__Invoice *invoice, float height, bool head)
{
    if (doc->drawing && doc->y - height >= BOTTOM)
        return;
    s_page (doc, invoice);
    if (head)
        s_table_head (doc, invoice);
}

/* Splits CP932 text into lines of at most width at size: each line's start and length into
   starts and lengths (up to LINE_WRAPS_MAX, the last one taking what is left). Returns how
   many. Gathering (no font to measure with), one line: the lines are its parts. */
static int
s_wrap (s_doc_t *doc, const char *text, float width, float size, size_t starts [], size_t lengths [])
{
    size_t at = 0, left = strlen (text);
    int count = 0;
    while (left > 0 && count < LINE_WRAPS_MAX) {
        HPDF_REAL real = 0;
        size_t fits = count == LINE_WRAPS_MAX - 1 || !doc->drawing? left
                    : HPDF_Font_MeasureText (doc->font, (const HPDF_BYTE *) text + at, (HPDF_UINT) left,
                                             width, size, 0, 0, HPDF_FALSE, &real);
        if (fits == 0)                  /* one character wider than the column */
            fits = left;
        starts [count] = at;
        lengths [count++] = fits;
        at += fits;
        left -= fits;
    }
    return count;
}

/* One line of the invoice: its description (wrapped), ※ when it is taxed at the reduced
   rate, its quantity, unit price and amount. */
static void
s_line (s_doc_t *doc, const Kaiin__Billing__Invoice *invoice, const Kaiin__Billing__InvoiceLine *line)
{
    char description [800], unit [40], amount [40], discount [40], quantity [24];
    snprintf (description, sizeof description, "%s%s%s%s%s", line->description,
              line->discount_amount? "（値引 ": "", line->discount_amount? s_yen (line->discount_amount, discount): "",
              line->discount_amount? "）": "", line->tax_rate == 8? " ※": line->tax_rate == 0? "（非課税）": "");
    char text [sizeof doc->text];
    snprintf (text, sizeof text, "%s", s_cp932 (doc, description));
    size_t starts [LINE_WRAPS_MAX], lengths [LINE_WRAPS_MAX];
    int count = s_wrap (doc, text, DESCRIPTION_WIDTH, SMALL, starts, lengths);
    s_room (doc, invoice, count * (LEADING - 3) + 3, true);
    s_put (doc, QUANTITY_RIGHT, doc->y, SMALL, 'r', NUM (quantity, line->quantity));
    s_put (doc, UNIT_RIGHT, doc->y, SMALL, 'r', s_yen (line->unit_amount, unit));
    s_put (doc, RIGHT, doc->y, SMALL, 'r', s_yen (line->amount, amount));
    for (int i = 0; i < count; i++) {
        char part [sizeof text];
        snprintf (part, sizeof part, "%.*s", (int) lengths [i], text + starts [i]);
        s_put_cp932 (doc, LEFT, doc->y, SMALL, 'l', part);
        doc->y -= LEADING - 3;
    }
    doc->y -= 3;
}

/* The head of the first page: the title, to whom, the invoice's number and dates, the
   issuer and its registration number, the amount. */
static void
s_head (s_doc_t *doc, const Kaiin__Billing__Invoice *invoice, const char *recipient, int64_t closing_ms,
        bool receipt)
{
    char line [400], date [40], amount [40];
    s_put (doc, PAGE_WIDTH / 2, doc->y, 22, 'c', receipt? "領収書": "適格請求書");
    doc->y -= 3 * LEADING;
    float top = doc->y;
    /* a company is addressed as one (御中), a person by name (様) */
    snprintf (line, sizeof line, "%s%s", recipient, !*recipient? "": closing_ms? " 御中": " 様");
    s_put (doc, LEFT, doc->y, 14, 'l', line);
    s_rule (doc, LEFT, 300, doc->y - 5, 0.8f);

    /* the right column: the document's own facts, then who issues it */
    const float label = 360, value = RIGHT;
    s_put (doc, label, doc->y, SMALL, 'l', "請求書番号");
    s_put (doc, value, doc->y, SMALL, 'r', invoice->number);
    doc->y -= LEADING;
    s_put (doc, label, doc->y, SMALL, 'l', "発行日");
    s_put (doc, value, doc->y, SMALL, 'r', s_date (invoice->issued_at_ms, date));
    doc->y -= LEADING;
    if (closing_ms && !receipt) {
        s_put (doc, label, doc->y, SMALL, 'l', "締め日");
        s_put (doc, value, doc->y, SMALL, 'r', s_date (closing_ms, date));
        doc->y -= LEADING;
    }
    if (receipt || (strcmp (invoice->status, "open") == 0 && invoice->due_at_ms)) {
        s_put (doc, label, doc->y, SMALL, 'l', receipt? "領収日": "お支払期限");
        s_put (doc, value, doc->y, SMALL, 'r', s_date (receipt? invoice->paid_at_ms: invoice->due_at_ms, date));
        doc->y -= LEADING;
    }
    doc->y -= LEADING / 2;
    s_put (doc, label, doc->y, BODY, 'l', invoice->issuer_name);
    doc->y -= LEADING;
    snprintf (line, sizeof line, "登録番号 %s", invoice->registration_number);
    s_put (doc, label, doc->y, SMALL, 'l', *invoice->registration_number? line: "");

    /* the left column: the amount, and what the document says of it */
    doc->y = top - 3 * LEADING;
    s_put (doc, LEFT, doc->y, BODY, 'l', receipt? "領収金額（税込）": "ご請求金額（税込）");
    s_put (doc, 300, doc->y, 16, 'r', s_yen (invoice->total, amount));
    s_rule (doc, LEFT, 300, doc->y - 5, 0.8f);
    doc->y -= 1.5f * LEADING;
    if (receipt) {
        snprintf (line, sizeof line, "但し 請求書番号 %s のお支払いとして", invoice->number);
        s_put (doc, LEFT, doc->y, SMALL, 'l', line);
        doc->y -= LEADING;
        s_put (doc, LEFT, doc->y, SMALL, 'l', "上記正に領収いたしました。");
        doc->y -= LEADING;
    }
    if (strcmp (invoice->status, "void") == 0) {
        snprintf (line, sizeof line, "この請求書は%sに取り消されました（無効）。", s_date (invoice->voided_at_ms, date));
        s_put (doc, LEFT, doc->y, SMALL, 'l', line);
        doc->y -= LEADING;
    }
    if (invoice->period_start_ms && invoice->period_end_ms) {
        char end [40];
        snprintf (line, sizeof line, "ご利用期間 %s〜%s", s_date (invoice->period_start_ms, date),
                  s_date (invoice->period_end_ms, end));
        s_put (doc, LEFT, doc->y, SMALL, 'l', line);
        doc->y -= LEADING;
    }
    if (doc->y > top - 9 * LEADING)
        doc->y = top - 9 * LEADING;     /* below the right column too */
    else
        doc->y -= LEADING;
}

/* Per rate, what it applies to (excluding tax) and its tax; then the totals. */
static void
s_totals (s_doc_t *doc, const Kaiin__Billing__Invoice *invoice)
{
    bool reduced = false;
    for (size_t i = 0; i < invoice->n_lines; i++)
        reduced |= invoice->lines [i]->tax_rate == 8;
    s_room (doc, invoice, (invoice->n_taxes + 5) * LEADING, false);
    s_rule (doc, LEFT, RIGHT, doc->y + LEADING - 5, 0.5f);
    if (reduced) {
        s_put (doc, LEFT, doc->y, SMALL, 'l', "※は軽減税率（8%）対象");
        doc->y -= LEADING;
    }
    char label [64], amount [40], tax [40];
    const float tax_label = 445;
    for (size_t i = 0; i < invoice->n_taxes; i++) {
        const Kaiin__Billing__TaxBreakdown *rate = invoice->taxes [i];
        snprintf (label, sizeof label, "%d%%対象（税抜）", rate->rate);
        s_put (doc, 250, doc->y, SMALL, 'l', label);
        s_put (doc, tax_label - 15, doc->y, SMALL, 'r', s_yen (rate->taxable_amount, amount));
        s_put (doc, tax_label, doc->y, SMALL, 'l', "消費税");
        s_put (doc, RIGHT, doc->y, SMALL, 'r', s_yen (rate->tax, tax));
        doc->y -= LEADING;
    }
    doc->y -= LEADING / 2;
    static const char *const labels [] = { "小計（税抜）", "消費税合計", "合計（税込）" };
    const int64_t values [] = { invoice->subtotal, invoice->tax_total, invoice->total };
    const float total_label = 400;
    for (int i = 0; i < 3; i++) {
        s_put (doc, total_label, doc->y, i == 2? BODY: SMALL, 'l', labels [i]);
        s_put (doc, RIGHT, doc->y, i == 2? BODY: SMALL, 'r', s_yen (values [i], amount));
        doc->y -= LEADING;
    }
    s_rule (doc, total_label, RIGHT, doc->y + LEADING - 4, 0.8f);
}

/* The document as bytes into a new buffer. NULL on error. */
static uint8_t *
s_bytes (s_doc_t *doc, size_t *size)
{
    if (doc->error || HPDF_SaveToStream (doc->pdf) != HPDF_OK)
        return NULL;
    HPDF_UINT32 total = HPDF_GetStreamSize (doc->pdf);
    uint8_t *bytes = malloc (total? total: 1);
    if (!bytes)
        return NULL;
    HPDF_UINT32 used = 0;
    while (used < total) {
        HPDF_UINT32 length = total - used;
        HPDF_STATUS status = HPDF_ReadFromStream (doc->pdf, bytes + used, &length);
        used += length;
        if ((status != HPDF_OK && status != HPDF_STREAM_EOF) || length == 0)
            break;
    }
    if (used != total) {
        free (bytes);
        return NULL;
    }
    *size = total;
    return bytes;
}

/* The document's text, laid out: gathered, or drawn. */
static void
s_layout (s_doc_t *doc, const Kaiin__Billing__Invoice *invoice, const char *recipient, int64_t closing_ms,
          bool receipt)
{
    s_page (doc, NULL);
    s_head (doc, invoice, recipient, closing_ms, receipt);
    s_table_head (doc, invoice);
    for (size_t i = 0; i < invoice->n_lines; i++)
        s_line (doc, invoice, invoice->lines [i]);
    s_totals (doc, invoice);
}

uint8_t *
invoice_pdf_make (const Kaiin__Billing__Invoice *invoice, const char *recipient, int64_t closing_ms,
                  bool receipt, size_t *size)
{
    s_doc_t doc;
    uint8_t *bytes = NULL;
    if (s_open (&doc) == 0) {
        s_layout (&doc, invoice, recipient, closing_ms, receipt);
        if (s_load_font (&doc) == 0) {
            HPDF_SetInfoAttr (doc.pdf, HPDF_INFO_CREATOR, "Kaiin");
            HPDF_SetInfoAttr (doc.pdf, HPDF_INFO_TITLE, invoice->number);
            doc.drawing = true;
            s_layout (&doc, invoice, recipient, closing_ms, receipt);
            bytes = doc.missed? NULL: s_bytes (&doc, size);
        }
    }
    if (!bytes && doc.missed)
        log_error ("cannot make the PDF of invoice '%s': it sets U+%04X, which its first pass did"
                   " not gather", invoice->id, (unsigned) doc.ungathered);
    else
    if (!bytes)
        log_error ("cannot make the PDF of invoice '%s': libhpdf error 0x%04X (detail %u)",
                   invoice->id, (unsigned) doc.error, (unsigned) doc.detail);
    s_close (&doc);
    return bytes;
}
