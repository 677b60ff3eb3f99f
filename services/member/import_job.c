/* import_job.c - the CSV import as a job: the posted file stored in chunks of whole records,
   imported one chunk a transaction by the tick, with its progress, errors so far and cancel */
#include "import_job.h"
#include "audit.h"
#include "config.h"
#include "csv.h"
#include "member_csv.pb-c.h"
#include "member_import.h"
#include "log.h"
#include "messages.h"
#include "pg_row.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ERRORS_KEPT  1000               /* rejected rows a job keeps */

/* The longest record an upload carries from one slice to the next: many times a member's
   longest row. */
#define RECORD_MAX (1024 * 1024)

static long s_batch = 1000;             /* MEMBER_IMPORT_BATCH: records a chunk */
static long s_pause_ms;                 /* MEMBER_IMPORT_PAUSE_MS: a nap after each (tests) */
static long s_upload_idle_ms;           /* MEMBER_IMPORT_UPLOAD_IDLE_S: an upload's slices
                                           stopped that long ago is deleted */

#define JOB_COLUMNS "id, state, mode, tags_mode, charset, rows_total, rows_done, created, updated," \
                    " unchanged, rejected, error, " MS ("created_at") " as created_at_ms, " \
                    MS ("started_at") " as started_at_ms, " MS ("finished_at") " as finished_at_ms"

void
import_job_prepare (pg_t *db)
{
    s_batch = config_int ("MEMBER_IMPORT_BATCH", 1000, 1, 100000);
    s_pause_ms = config_int ("MEMBER_IMPORT_PAUSE_MS", 0, 0, 60000);
    s_upload_idle_ms = config_int ("MEMBER_IMPORT_UPLOAD_IDLE_S", 600, 1, 86400) * 1000;
    pg_prepare (db, "import_job_insert",
            "insert into import_jobs (id, state, mode, tags_mode, header, rows_total, caller_id,"
            " caller_role, request_id, ip, language, created_at, uploaded_at)"
            " values (gen_random_uuid (), 'uploading', 'partial', $1, '', 0, $2, $3, $4, $5, $6,"
            " " AT ("$7") ", " AT ("$7") ") returning id");
    /* The upload a later slice goes on, its caller's: its row locked while the slice is in. */
    pg_prepare (db, "import_job_upload_open",
            "select charset, header, rows_total, upload_chunks, upload_text, upload_cut"
            " from import_jobs where id = $1 and state = 'uploading' and caller_id = $2 for update");
    pg_prepare (db, "import_job_upload",
            "update import_jobs set state = $2, charset = $3, header = $4, rows_total = $5,"
            " upload_chunks = $6, upload_text = $7, upload_cut = $8, uploaded_at = " AT ("$9")
            " where id = $1");
    pg_prepare (db, "import_job_upload_drop",
            "delete from import_jobs where id = $1 and state = 'uploading'");
    pg_prepare (db, "import_job_chunk_insert",
            "insert into import_job_chunks (job_id, seq, first_row, data) values ($1, $2, $3, $4)");
    pg_prepare (db, "import_job_get", "select " JOB_COLUMNS " from import_jobs where id = $1");
    pg_prepare (db, "import_job_errors",
            "select row, col as \"column\", reason, code from import_job_errors where job_id = $1"
            " order by row limit 100");     /* ERRORS_SHOWN */
    /* An upload whose slices stopped coming (its client went away) is deleted, its chunks
       with it, by the same round trip. */
    pg_prepare (db, "import_job_waiting",
            "with stale as (delete from import_jobs where state = 'uploading' and uploaded_at < "
            AT ("$1") " returning 1)"
            " select 1 from import_jobs where state in ('queued', 'running') limit 1");
    pg_prepare (db, "import_job_claim",
            "select id, header, next_chunk, rows_done, tags_mode, caller_id, caller_role,"
            " request_id, ip, language, created, updated, unchanged, rejected,"
            " (select count (*) from import_job_errors e where e.job_id = j.id) as errors_kept"
            " from import_jobs j where state in ('queued', 'running')"
            " order by created_at, id limit 1 for update skip locked");
    pg_prepare (db, "import_job_chunk",
            "select data from import_job_chunks where job_id = $1 and seq = $2");
    /* The rows that first had each email: an earlier batch's, else the row itself (kept). */
    pg_prepare (db, "import_job_seen",
            "with input as (select * from unnest (string_to_array ($2, chr (10)),"
            "                string_to_array ($3, ',')::int[]) with ordinality as t (email_key, row, n)),"
            " kept as (insert into import_job_emails (job_id, email_key, row)"
            "          select $1, email_key, row from input on conflict do nothing)"
            " select coalesce (e.row, i.row) from input i left join import_job_emails e"
            "   on e.job_id = $1 and e.email_key = i.email_key order by i.n");
    pg_prepare (db, "import_job_error_insert",
            "insert into import_job_errors (job_id, row, col, reason, code) values ($1, $2, $3, $4, $5)");
    pg_prepare (db, "import_job_progress",
            "update import_jobs set state = 'running', started_at = coalesce (started_at, " AT ("$2") "),"
            " next_chunk = next_chunk + 1, rows_done = $3, created = created + $4,"
            " updated = updated + $5, unchanged = unchanged + $6, rejected = rejected + $7"
            " where id = $1");
    pg_prepare (db, "import_job_chunk_delete",
            "delete from import_job_chunks where job_id = $1 and seq = $2");
    /* A job's end: its file and the emails met are no longer needed. */
    pg_prepare (db, "import_job_finish",
            "with gone as (delete from import_job_chunks where job_id = $1),"
            " seen as (delete from import_job_emails where job_id = $1)"
            " update import_jobs set state = $2, error = $3,"
            " started_at = coalesce (started_at, " AT ("$4") "), finished_at = " AT ("$4")
            " where id = $1 and state in ('uploading', 'queued', 'running') returning id");
    pg_prepare (db, "import_job_state", "select state from import_jobs where id = $1");
}

/* The job as GET shows it, with its first errors. MEMBER_OK with *job set (the caller frees
   it), MEMBER_NOT_FOUND or MEMBER_ERROR. */
static member_rc_t
s_job_read (pg_t *db, const char *id, Kaiin__MemberCsv__ImportJob **job)
{
    const char *params [] = { id };
    member_rc_t rc = member_row (db, "import_job_get", 1, params,
                                 &kaiin__member_csv__import_job__descriptor, (ProtobufCMessage **) job);
    if (rc != MEMBER_OK)
        return rc;
    PGresult *errors = pg_run (db, "import_job_errors", 1, params);
    if (!errors) {
        protobuf_c_message_free_unpacked (&(*job)->base, NULL);
        *job = NULL;
        return MEMBER_ERROR;
    }
    member_rows_append (&(*job)->base, "errors", errors, PQntuples (errors));
    PQclear (errors);
    return MEMBER_OK;
}

/* Replies with the job, or fails the reply. */
static int
s_reply_job (svc_request_t *request, svc_reply_t *reply, const char *id)
{
    Kaiin__MemberCsv__ImportJob *job = NULL;
    member_rc_t rc = s_job_read (request->db, id, &job);
    if (rc == MEMBER_NOT_FOUND)
        return svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "import job not found");
    if (rc != MEMBER_OK)
        return svc_db_fail (reply, request->db);
    svc_reply_with (reply, &job->base);
    protobuf_c_message_free_unpacked (&job->base, NULL);
    return 0;
}

/* Stores one chunk: length bytes of text, whose first record is row first_row. */
static int
s_store_chunk (pg_t *db, const char *id, int seq, int first_row, const char *text, size_t length)
{
    char *data = strndup (text, length);
    char seq_text [16], first_text [16];
    const char *params [] = { id, NUM (seq_text, seq), NUM (first_text, first_row), data };
    int rc = pg_do (db, "import_job_chunk_insert", 4, params);
    free (data);
    return rc;
}

/* An upload as its slices leave it (import_jobs' upload_ columns). */
typedef struct {
    char *id;
    char charset [16];                  /* "" while the file has been ASCII */
    char *header;                       /* "" until its record is whole */
    int rows, chunks;
    char *text;                         /* the start of a record the last slice cut */
    unsigned char cut [4];              /* a character the last slice cut */
    size_t cut_size;
} upload_t;

static void
s_upload_free (upload_t *upload)
{
    free (upload->id);
    free (upload->header);
    free (upload->text);
}

/* Reads the upload id, open and posted by caller, locking its row: MEMBER_OK,
   MEMBER_NOT_FOUND (ended, or another's) or MEMBER_ERROR. */
static member_rc_t
s_upload_open (pg_t *db, const char *id, const char *caller, upload_t *upload)
{
    const char *params [] = { id, caller };
    PGresult *result = NULL;
    member_rc_t rc = member_one (db, "import_job_upload_open", 2, params, &result);
    if (rc == MEMBER_OK) {
        upload->id = strdup (id);
        snprintf (upload->charset, sizeof upload->charset, "%s", PQgetvalue (result, 0, 0));
        upload->header = strdup (PQgetvalue (result, 0, 1));
        upload->rows = atoi (PQgetvalue (result, 0, 2));
        upload->chunks = atoi (PQgetvalue (result, 0, 3));
        upload->text = strdup (PQgetvalue (result, 0, 4));
        const char *hex = PQgetvalue (result, 0, 5);
        for (unsigned byte; upload->cut_size < sizeof upload->cut && sscanf (hex, "%2x", &byte) == 1; hex += 2)
            upload->cut [upload->cut_size++] = (unsigned char) byte;
    }
    PQclear (result);
    return rc;
}

/* Saves the upload as this slice leaves it, queued when it was the last. */
static int
s_upload_save (pg_t *db, const upload_t *upload, bool last, int64_t now_ms)
{
    char rows [16], chunks [16], now [24], cut [sizeof upload->cut * 2 + 1] = "";
    for (size_t i = 0; i < upload->cut_size; i++)
        snprintf (cut + 2 * i, 3, "%02x", upload->cut [i]);
    const char *params [] = { upload->id, last? "queued": "uploading", upload->charset, upload->header,
                              NUM (rows, upload->rows), NUM (chunks, upload->chunks),
                              upload->text, cut, NUM (now, now_ms) };
    return pg_do (db, "import_job_upload", 9, params);
}

/* Stores text's whole records: the file's first, when its header has not come yet, as the
   header (checked); the next in chunks of s_batch records. A record a later slice may go on
   (text is not the file's last) is left: *left is where it starts. Returns 0, or -1 with
   reply failed (a wrong header) or on a database error (*db_failed). */
static int
s_store_records (svc_request_t *request, svc_reply_t *reply, upload_t *upload, const char *text,
                 size_t size, bool last, size_t *left, bool *db_failed)
{
    csv_reader_t *reader = csv_reader_new (text, size);
    char **fields;
    int line, count, in_chunk = 0, rc = 0;
    size_t start = 0, end = 0;
    while (rc == 0 && (count = csv_reader_next (reader, &fields, &line)) != 0) {
        size_t offset = csv_reader_offset (reader);
        /* Whole once a line break ends it, or the file does (a quote never closed runs to
           the file's end). */
        if (!last && (count < 0 || (text [offset - 1] != '\n' && text [offset - 1] != '\r')))
            break;
        if (!*upload->header) {
            if (member_import_header (text, offset, reply->japanese, false, reply) < 0) {
                rc = -1;
                break;
            }
            free (upload->header);
            upload->header = strndup (text, offset);
            start = end = offset;
            continue;
        }
        end = count > 0? offset: size;
        upload->rows++;
        if (++in_chunk < s_batch)
            continue;
        rc = s_store_chunk (request->db, upload->id, upload->chunks++, upload->rows - in_chunk + 2,
                            text + start, end - start);
        *db_failed = rc == -1;
        start = end;
        in_chunk = 0;
    }
    if (rc == 0 && in_chunk) {
        rc = s_store_chunk (request->db, upload->id, upload->chunks++, upload->rows - in_chunk + 2,
                            text + start, end - start);
        *db_failed = rc == -1;
        start = end;
    }
    csv_reader_destroy (&reader);
    *left = start;
    return rc;
}

int
import_job_api_create (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__MemberCsv__ImportJobCreateRequest *create = (Kaiin__MemberCsv__ImportJobCreateRequest *)
        svc_unpack (request, &kaiin__member_csv__import_job_create_request__descriptor, reply);
    if (!create)
        return -1;
    /* A slice of the file (the gateway streams it: docs in the README): the first makes the
       job, each converts its bytes and stores its whole records, the last queues it. */
    const Kaiin__Request *envelope = request->envelope;
    bool first = !*create->upload, last = !create->more, db_failed = false;
    upload_t upload = { 0 };
    char *bytes = NULL, *utf8 = NULL, *text = NULL;
    int rc = -1;
    if (pg_begin (request->db) == -1)
        goto fail;
    if (first) {
        char now [24];
        const char *params [] = { strcmp (create->tags_mode, "add") == 0? "add": "replace",
                                  envelope->caller_id, envelope->caller_role, envelope->request_id,
                                  envelope->client_ip, envelope->language, NUM (now, member_now (request)) };
        PGresult *result = pg_run (request->db, "import_job_insert", 7, params);
        if (!result)
            goto fail;
        upload.id = strdup (PQgetvalue (result, 0, 0));
        upload.header = strdup ("");
        upload.text = strdup ("");
        PQclear (result);
    }
    else {
        member_rc_t found = s_upload_open (request->db, create->upload, envelope->caller_id, &upload);
        if (found == MEMBER_ERROR)
            goto fail;
        if (found == MEMBER_NOT_FOUND) {
            rc = svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "the upload has ended");
            pg_rollback (request->db);
            goto done;
        }
    }
    /* The slice after the character the last one cut; the upload is freed once converted. */
    size_t length = upload.cut_size + create->csv.len, size, left;
    bytes = malloc (length + 1);
    assert (bytes);
    memcpy (bytes, upload.cut, upload.cut_size);
    if (create->csv.len)
        memcpy (bytes + upload.cut_size, create->csv.data, create->csv.len);
    protobuf_c_message_free_unpacked (&create->base, NULL);
    create = NULL;
    utf8 = csv_to_utf8_part (bytes, length, first, last, upload.charset, &size, &upload.cut_size);
    if (!utf8) {
        svc_field_error (reply, "csv", "the file is neither UTF-8 nor Shift_JIS (CP932) text");
        goto refused;
    }
    memcpy (upload.cut, bytes + length - upload.cut_size, upload.cut_size);
    free (bytes);
    bytes = NULL;
    /* The record the last slice cut, then this slice's text. */
    size_t carried = strlen (upload.text);
    text = malloc (carried + size + 1);
    assert (text);
    memcpy (text, upload.text, carried);
    memcpy (text + carried, utf8, size + 1);
    free (utf8);
    utf8 = NULL;
    if (s_store_records (request, reply, &upload, text, carried + size, last, &left, &db_failed) == -1) {
        if (db_failed)
            goto fail;
        goto refused;
    }
    /* A record no slice ends (a quote never closed) would be carried, and read again, to the
       file's end: refused once it outgrows any member's row. */
    if (!last && carried + size - left > RECORD_MAX) {
        svc_field_error (reply, "csv", "row %d is longer than %d KiB: is a quoted field never closed?",
                         upload.rows + 2, RECORD_MAX / 1024);
        goto refused;
    }
    /* The whole file: a header (an empty file's reasons) and a row after it. */
    if (last && upload.rows == 0) {
        member_import_header (upload.header, strlen (upload.header), reply->japanese, true, reply);
        goto refused;
    }
    free (upload.text);
    upload.text = strdup (text + left);
    free (text);
    text = NULL;
    if (s_upload_save (request->db, &upload, last, member_now (request)) == -1
    ||  pg_commit (request->db) == -1)
        goto fail;
    rc = s_reply_job (request, reply, upload.id);
    goto done;
refused:
    /* A file that cannot be imported leaves no job: its earlier slices' with it. */
    rc = -1;                            /* the reply names the field: csv */
    pg_rollback (request->db);
    if (!first) {
        const char *params [] = { upload.id };
        pg_do (request->db, "import_job_upload_drop", 1, params);
    }
    goto done;
fail:
    rc = svc_db_fail (reply, request->db);
    pg_rollback (request->db);
done:
    if (create)
        protobuf_c_message_free_unpacked (&create->base, NULL);
    s_upload_free (&upload);
    free (bytes);
    free (utf8);
    free (text);
    return rc;
}

int
import_job_api_get (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__MemberCsv__ImportJobGetRequest *get = (Kaiin__MemberCsv__ImportJobGetRequest *)
        svc_unpack (request, &kaiin__member_csv__import_job_get_request__descriptor, reply);
    if (!get)
        return -1;
    int rc = member_id_ok (reply, get->id, "import job not found")? s_reply_job (request, reply, get->id): -1;
    protobuf_c_message_free_unpacked (&get->base, NULL);
    return rc;
}

/* Ends a job still queued or running with state (and error): its file is deleted. MEMBER_OK,
   MEMBER_NOT_FOUND when it had ended, or MEMBER_ERROR. */
static member_rc_t
s_finish (pg_t *db, const char *id, const char *state, const char *error, int64_t now_ms)
{
    char now [24];
    const char *params [] = { id, state, error, NUM (now, now_ms) };
    PGresult *result = NULL;
    member_rc_t rc = member_one (db, "import_job_finish", 4, params, &result);
    PQclear (result);
    return rc;
}

int
import_job_api_cancel (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__MemberCsv__ImportJobGetRequest *cancel = (Kaiin__MemberCsv__ImportJobGetRequest *)
        svc_unpack (request, &kaiin__member_csv__import_job_get_request__descriptor, reply);
    if (!cancel)
        return -1;
    int rc = -1;
    if (!member_id_ok (reply, cancel->id, "import job not found"))
        goto done;
    /* A batch in hand holds the job's row: the cancel waits for its commit, and the tick
       claims no more of a canceled job. */
    member_rc_t ended = s_finish (request->db, cancel->id, "canceled", "", member_now (request));
    if (ended == MEMBER_ERROR) {
        rc = svc_db_fail (reply, request->db);
        goto done;
    }
    if (ended == MEMBER_NOT_FOUND) {
        const char *params [] = { cancel->id };
        PGresult *state = NULL;
        member_rc_t found = member_one (request->db, "import_job_state", 1, params, &state);
        PQclear (state);
        if (found == MEMBER_ERROR)
            rc = svc_db_fail (reply, request->db);
        else
        if (found == MEMBER_NOT_FOUND)
            rc = svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "import job not found");
        else
            rc = svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "the import has already finished");
        goto done;
    }
    rc = s_reply_job (request, reply, cancel->id);
done:
    protobuf_c_message_free_unpacked (&cancel->base, NULL);
    return rc;
}

/* The job a batch runs for, as s_seen reads it. */
typedef struct {
    pg_t *db;
    const char *id;
} job_ref_t;

/* member_import_seen_fn on the job's table of emails met. */
static int
s_seen (void *arg, const char *const *keys, const int *rows, size_t count, int *earlier)
{
    const job_ref_t *job = arg;
    pg_buffer_t emails = { 0 }, lines = { 0 };
    for (size_t i = 0; i < count; i++) {
        char row [16];
        int length = snprintf (row, sizeof row, "%s%d", i? ",": "", rows [i]);
        if (i)
            pg_buffer_append (&emails, "\n", 1);
        pg_buffer_append (&emails, keys [i], strlen (keys [i]));
        pg_buffer_append (&lines, row, (size_t) length);
    }
    pg_buffer_append (&emails, "", 1);
    pg_buffer_append (&lines, "", 1);
    const char *params [] = { job->id, emails.text, lines.text };
    PGresult *result = pg_run (job->db, "import_job_seen", 3, params);
    free (emails.text);
    free (lines.text);
    if (!result)
        return -1;
    assert ((size_t) PQntuples (result) == count);
    for (size_t i = 0; i < count; i++)
        earlier [i] = atoi (PQgetvalue (result, (int) i, 0));
    PQclear (result);
    return 0;
}

/* Keeps the batch's errors while the job has fewer than ERRORS_KEPT. Returns 0 or -1. */
static int
s_keep_errors (pg_t *db, const char *id, const Kaiin__MemberCsv__ImportReply *result, long kept)
{
    for (size_t i = 0; i < result->n_errors && kept + (long) i < ERRORS_KEPT; i++) {
        char row [16];
        const char *params [] = { id, NUM (row, result->errors [i]->row), result->errors [i]->column,
                                  result->errors [i]->reason, result->errors [i]->code };
        if (pg_do (db, "import_job_error_insert", 5, params) == -1)
            return -1;
    }
    return 0;
}

/* Imports the next chunk of the claimed job (claim's row 0), or ends the job when none is
   left, in the open transaction. Returns the rows done (>= 1), 0 when the batch met a race
   and is to be tried again, or -1: then *failed is the reason when the job itself cannot go
   on (not a database's passing failure). */
static int
s_run_batch (pg_t *db, PGresult *claim, int64_t now_ms, char *failed, size_t failed_size)
{
    const char *id = PQgetvalue (claim, 0, PQfnumber (claim, "id"));
    #define FIELD(name) PQgetvalue (claim, 0, PQfnumber (claim, name))
    const char *chunk_params [] = { id, FIELD ("next_chunk") };
    PGresult *chunk = pg_run (db, "import_job_chunk", 2, chunk_params);
    if (!chunk)
        return -1;
    /* The runner acts as the job's creator: its checks, events and audit entries are theirs. */
    Kaiin__Request envelope = KAIIN__REQUEST__INIT;
    envelope.method = "member.ImportJob";
    envelope.caller_id = FIELD ("caller_id");
    envelope.caller_role = FIELD ("caller_role");
    envelope.request_id = FIELD ("request_id");
    envelope.client_ip = FIELD ("ip");
    envelope.language = FIELD ("language");
    envelope.now_ms = now_ms;
    svc_request_t request = { &envelope, db };
    audit_actor_t actor = audit_actor_of (&request, now_ms);
    int rc = 1;
    if (PQntuples (chunk) == 0) {
        Kaiin__MemberCsv__ImportReply total = KAIIN__MEMBER_CSV__IMPORT_REPLY__INIT;
        total.rows = atoi (FIELD ("rows_done"));
        total.created = atoi (FIELD ("created"));
        total.updated = atoi (FIELD ("updated"));
        total.unchanged = atoi (FIELD ("unchanged"));
        total.rejected = atoi (FIELD ("rejected"));
        if (s_finish (db, id, "succeeded", "", now_ms) != MEMBER_OK
        ||  member_import_audit (db, &actor, &total, id) == -1)
            rc = -1;
        PQclear (chunk);
        return rc;
    }
    Kaiin__MemberCsv__ImportReply result = KAIIN__MEMBER_CSV__IMPORT_REPLY__INIT;
    int rows_before = atoi (FIELD ("rows_done"));
    result.rows = rows_before;
    job_ref_t job = { db, id };
    svc_reply_t reply = { .status = KAIIN__STATUS__OK, .japanese = strcmp (envelope.language, "ja") == 0 };
    const char *data = PQgetvalue (chunk, 0, 0);
    if (member_import_batch (&request, FIELD ("header"), data, strlen (data),
                             strcmp (FIELD ("tags_mode"), "add") == 0, s_seen, &job,
                             &result, &reply) == -1) {
        /* UNAVAILABLE: the database went away; ABORTED: a race with another write (a member
           created meanwhile with one of the batch's emails): both are tried again. */
        if (reply.status != KAIIN__STATUS__UNAVAILABLE && reply.status != KAIIN__STATUS__ABORTED
        &&  !pg_lost (db))
            snprintf (failed, failed_size, "%s", reply.message);
        rc = reply.status == KAIIN__STATUS__ABORTED? 0: -1;
    }
    char now [24], rows [16], created [16], updated [16], unchanged [16], rejected [16];
    const char *progress [] = { id, NUM (now, now_ms), NUM (rows, result.rows), NUM (created, result.created),
                                NUM (updated, result.updated), NUM (unchanged, result.unchanged),
                                NUM (rejected, result.rejected) };
    if (rc == 1
    &&  (s_keep_errors (db, id, &result, atol (FIELD ("errors_kept"))) == -1
    ||   pg_do (db, "import_job_progress", 7, progress) == -1
    ||   pg_do (db, "import_job_chunk_delete", 2, chunk_params) == -1))
        rc = -1;
    if (rc == 1)
        rc = result.rows - rows_before > 0? result.rows - rows_before: 1;
    member_import_errors_free (&result);
    PQclear (chunk);
    free (reply.payload);
    return rc;
    #undef FIELD
}

int
import_job_tick (pg_t *db, int64_t now_ms)
{
    /* Most ticks find no job: one round trip says so, before the three of a claim. */
    char stale [24];
    const char *stale_params [] = { NUM (stale, now_ms - s_upload_idle_ms) };
    PGresult *waiting = pg_run (db, "import_job_waiting", 1, stale_params);
    if (!waiting)
        return -1;
    bool idle = PQntuples (waiting) == 0;
    PQclear (waiting);
    if (idle)
        return 0;
    if (pg_begin (db) == -1)
        return -1;
    PGresult *claim = pg_run (db, "import_job_claim", 0, NULL);
    if (!claim || PQntuples (claim) == 0) {
        PQclear (claim);
        pg_rollback (db);
        return claim? 0: -1;
    }
    char failed [256] = "";
    int rc = s_run_batch (db, claim, now_ms, failed, sizeof failed);
    if (rc > 0 && pg_commit (db) == -1)
        rc = -1;
    if (rc <= 0)
        pg_rollback (db);
    /* A batch that cannot be written (not the database's passing failure) fails the job. */
    if (rc < 0 && *failed) {
        char *id = strdup (PQgetvalue (claim, 0, 0));
        log_error ("import job '%s' failed: %s", id, failed);
        rc = s_finish (db, id, "failed", failed, now_ms) == MEMBER_OK? 1: -1;
        free (id);
    }
    PQclear (claim);
    if (rc > 0 && s_pause_ms)
        usleep ((useconds_t) s_pause_ms * 1000);
    return rc;
}
