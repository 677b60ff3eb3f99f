/* invoice_pdf.h - an invoice, or the receipt (領収書) of a paid one, as a PDF laid out as a
   適格請求書: libhpdf, with a subset of a Japanese TrueType font embedded (the glyphs it uses,
   cut by HarfBuzz's subsetter) */
#ifndef KAIIN_BILLING_INVOICE_PDF_H
#define KAIIN_BILLING_INVOICE_PDF_H
#include "billing.h"

/* The font every PDF is set in: a TrueType-outline font file with the JIS X 0208 characters
   (libhpdf reads no CFF outlines, so no Noto CJK: see README.md, "Documents"). Reads it
   (mapped, kept for the process) and checks that libhpdf loads a subset of it; at start-up,
   before any thread makes a PDF. 0, or -1 (logged) when it cannot be read or loaded. */
int invoice_pdf_init (const char *font_path);

/* The PDF of invoice (with its lines and taxes) addressed to recipient ("" for none): the
   invoice, or its receipt when receipt. closing_ms: for a company on payment terms, the
   closing date (締め日) the invoice falls in, shown on the invoice, the recipient addressed
   御中; 0 for anyone else (様). Returns a new buffer the caller frees, its size in
   *size, or NULL (logged) when libhpdf or the subsetter fails. A character the font's
   encoding (CP932) lacks is set as 〓, the typesetter's mark of a missing character. Safe to
   call from several threads at once. */
uint8_t *invoice_pdf_make (const Kaiin__Billing__Invoice *invoice, const char *recipient,
                           int64_t closing_ms, bool receipt, size_t *size);

#endif
