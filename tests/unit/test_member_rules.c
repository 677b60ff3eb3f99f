/* test_member_rules.c - the member service's validation rules and cursors */
#include "check.h"
#include "services/member/member_api.c"
#include "services/member/member_store.c"
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

    CHECK (s_is_uuid ("30c49af1-4e71-494f-af26-c99b907fc37d"));
    CHECK (!s_is_uuid ("30c49af1-4e71-494f-af26-c99b907fc37"));
    CHECK (!s_is_uuid ("30c49af1x4e71-494f-af26-c99b907fc37d"));

    int64_t seq;
    CHECK (s_cursor_decode ("", &seq) == 0 && seq == 0);
    CHECK (s_cursor_decode ("m1f", &seq) == 0 && seq == 31);
    CHECK (s_cursor_decode ("x1f", &seq) == -1);
    CHECK (s_cursor_decode ("m", &seq) == -1);
    CHECK (s_cursor_decode ("m0", &seq) == -1);
    CHECK (s_cursor_decode ("mzz", &seq) == -1);
    CHECK (s_cursor_decode ("m11111111111111111", &seq) == -1);
    return check_report ("member rules");
}
