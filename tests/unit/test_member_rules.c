/* test_member_rules.c - the member service's validation rules and cursors */
#include "check.h"
#include "services/member/member.c"
#include "services/member/member_text.c"
#include "services/member/member_check.c"
#include "services/member/member_crypt.c"
#include "services/member/member_record.c"
#include "services/member/member_bulk.c"
#include "services/member/member_search.c"
#include "services/member/attribute.c"
#include "services/member/audit.c"

int
main (void)
{
    CHECK (s_is_email ("hanako@example.jp"));
    CHECK (s_is_email ("taro.yamada+news@mail.example.co.jp"));
    CHECK (!s_is_email ("hanako"));
    CHECK (!s_is_email ("@example.jp"));
    CHECK (!s_is_email ("hanako@"));
    CHECK (!s_is_email ("hanako@example"));
    CHECK (!s_is_email ("hana ko@example.jp"));
    CHECK (!s_is_email ("hanako@@example.jp"));
    CHECK (!s_is_email ("hanako@exa_mple.jp"));
    CHECK (!s_is_email ("hanako@-example.jp"));
    CHECK (!s_is_email ("hanako.@example.jp"));
    CHECK (!s_is_email ("han..ako@example.jp"));
    CHECK (!s_is_email ("hanako@example.j1"));
    CHECK (!s_is_email ("花子@example.jp"));

    CHECK (s_is_kana ("ヤマダ ハナコ"));
    CHECK (s_is_kana ("ヤマダ　ハナコ"));          /* full-width space */
    CHECK (s_is_kana ("スズキ・ジョー"));
    CHECK (!s_is_kana ("やまだ はなこ"));           /* hiragana */
    CHECK (!s_is_kana ("ﾔﾏﾀﾞ"));                    /* half-width */
    CHECK (!s_is_kana ("山田"));
    CHECK (!s_is_kana ("Yamada"));

    CHECK (s_is_phone ("090-1234-5678"));
    CHECK (s_is_phone ("+81 90 1234 5678"));
    CHECK (s_is_phone ("(03) 1234-5678"));
    CHECK (!s_is_phone ("1234-5678"));              /* too few digits */
    CHECK (!s_is_phone ("090-1234-5678-9999-1"));   /* too many */
    CHECK (!s_is_phone ("090+1234+5678"));
    CHECK (!s_is_phone ("phone"));

    CHECK (s_text_length ("山田 花子") == 5);
    CHECK (s_text_length ("a\tb") == -1);
    CHECK (s_text_length ("\xff\xfe") == -1);

    CHECK (member_uuid ("30c49af1-4e71-494f-af26-c99b907fc37d"));
    CHECK (!member_uuid ("30c49af1-4e71-494f-af26-c99b907fc37"));
    CHECK (!member_uuid ("30c49af1x4e71-494f-af26-c99b907fc37d"));

    int64_t seq;
    CHECK (member_cursor_decode ("", &seq) == 0 && seq == 0);
    CHECK (member_cursor_decode ("m1f", &seq) == 0 && seq == 31);
    CHECK (member_cursor_decode ("x1f", &seq) == -1);
    CHECK (member_cursor_decode ("m", &seq) == -1);
    CHECK (member_cursor_decode ("m0", &seq) == -1);
    CHECK (member_cursor_decode ("mzz", &seq) == -1);
    CHECK (member_cursor_decode ("m11111111111111111", &seq) == -1);

    /* postal codes: 7 digits, half- or full-width, one hyphen after the third */
    char postal [9];
    CHECK (member_text_postal_code ("1500001", postal) == 0 && strcmp (postal, "150-0001") == 0);
    CHECK (member_text_postal_code ("150-0001", postal) == 0 && strcmp (postal, "150-0001") == 0);
    CHECK (member_text_postal_code ("１５０－０００１", postal) == 0 && strcmp (postal, "150-0001") == 0);
    CHECK (member_text_postal_code ("150ー0001", postal) == 0);
    CHECK (member_text_postal_code ("15-00001", postal) == -1);
    CHECK (member_text_postal_code ("150--0001", postal) == -1);
    CHECK (member_text_postal_code ("150000", postal) == -1);
    CHECK (member_text_postal_code ("15000011", postal) == -1);
    CHECK (member_text_postal_code ("150-000a", postal) == -1);
    CHECK (member_text_postal_code ("", postal) == -1);

    CHECK (member_text_prefecture ("東京都") != NULL);
    CHECK (member_text_prefecture ("北海道") != NULL);
    CHECK (member_text_prefecture ("鹿児島県") != NULL);
    CHECK (member_text_prefecture ("Tokyo") == NULL);

    int64_t day;
    CHECK (member_text_date ("1970-01-01", &day) == 0 && day == 0);
    CHECK (member_text_date ("2000-02-29", &day) == 0 && day == 11016);
    CHECK (member_text_date ("1900-02-29", &day) == -1);
    CHECK (member_text_date ("2026-13-01", &day) == -1);
    CHECK (member_text_date ("2026-1-01", &day) == -1);
    CHECK (member_text_date ("2026-04-31", &day) == -1);
    CHECK (member_text_japan_day (0) == 0);
    CHECK (member_text_japan_day (15 * 3600 * 1000LL) == 1);     /* 15:00 UTC is the next day in Japan */

    CHECK (member_text_length ("a\nb", true) == 3);
    CHECK (member_text_length ("a\nb", false) == -1);
    CHECK (member_text_length ("\xc0\xaf", false) == -1);        /* overlong */

    /* sort cursors: each order's own, round-tripping its key */
    member_position_t position = { .set = true, .seq = 42 };
    char cursor [700];
    snprintf (position.key, sizeof position.key, "ヤマダ ハナコ");
    member_search_cursor (&position, MEMBER_SORT_KANA, cursor, sizeof cursor);
    member_position_t back;
    CHECK (s_position_decode (cursor, MEMBER_SORT_KANA, &back) == 0);
    CHECK (back.set && back.seq == 42 && strcmp (back.key, "ヤマダ ハナコ") == 0);
    CHECK (s_position_decode (cursor, MEMBER_SORT_KANA_DESC, &back) == -1);
    CHECK (s_position_decode (cursor, MEMBER_SORT_SEQ, &back) == -1);
    snprintf (position.key, sizeof position.key, "1795597269719000");
    member_search_cursor (&position, MEMBER_SORT_CREATED_DESC, cursor, sizeof cursor);
    CHECK (s_position_decode (cursor, MEMBER_SORT_CREATED_DESC, &back) == 0 && back.seq == 42
           && strcmp (back.key, "1795597269719000") == 0);
    CHECK (s_position_decode ("a12x.1", MEMBER_SORT_CREATED, &back) == -1);
    CHECK (s_position_decode ("a12.", MEMBER_SORT_CREATED, &back) == -1);
    CHECK (s_position_decode ("k0a.1", MEMBER_SORT_KANA, &back) == -1);     /* a control character */
    CHECK (s_position_decode ("k00.1", MEMBER_SORT_KANA, &back) == -1);     /* NUL */
    CHECK (s_position_decode ("k.1", MEMBER_SORT_KANA, &back) == 0 && back.key [0] == 0);

    char *array = s_tags_array ((char *[]) { "a\"b", "c\\d" }, 2);
    CHECK (strcmp (array, "{\"a\\\"b\",\"c\\\\d\"}") == 0);
    free (array);
    /* sealed values: open only under their key and their member's id; the phone's hash is
       of its digits */
    setenv ("MEMBER_MASTER_KEY", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 1);
    member_crypt_configure ();
    const char *id = "0f8fad5b-d9cb-469f-a165-70867728950e", *other = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    member_key_t key, again, wrong;
    char *wrapped = member_crypt_key_new (id, &key);
    CHECK (wrapped && strncmp (wrapped, "k1:", 3) == 0);
    CHECK (member_crypt_key_open (id, wrapped, &again) == 0 && memcmp (key.bytes, again.bytes, 32) == 0);
    CHECK (member_crypt_key_open (other, wrapped, &wrong) == -1);
    size_t size;
    char *sealed = member_crypt_seal (&key, id, "札幌市中央区");
    unsigned char *plain = s_open (key.bytes, id, sealed, &size);
    CHECK (plain && strcmp ((char *) plain, "札幌市中央区") == 0 && size == strlen ("札幌市中央区"));
    free (plain);
    CHECK (!s_open (key.bytes, other, sealed, &size));
    sealed [10] = sealed [10] == 'A'? 'B': 'A';
    CHECK (!s_open (key.bytes, id, sealed, &size));
    free (sealed);
    free (wrapped);
    char *empty = member_crypt_seal (&key, id, "");
    CHECK (strcmp (empty, "") == 0);
    free (empty);
    char hex [65], same [65];
    member_crypt_phone_hash ("090-1234-5678", hex);
    member_crypt_phone_hash ("09012345678", same);
    CHECK (strlen (hex) == 64 && strcmp (hex, same) == 0);
    member_crypt_phone_hash ("090-1234-5679", same);
    CHECK (strcmp (hex, same) != 0);
    member_crypt_phone_hash ("", same);
    CHECK (*same == 0);
    return check_report ("member rules");
}
