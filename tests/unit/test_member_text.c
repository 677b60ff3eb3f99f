/* test_member_text.c - the normal forms of what people type in Japan (member_text.c): every
   form issue 13 names, written out by hand with the answer expected */
#include "check.h"
#include "services/member/member_text.c"

/* True when normalise gave exactly expected (NULL: refused). */
static bool
s_gives (char *normal, const char *expected)
{
    bool same = normal && expected? strcmp (normal, expected) == 0: normal == expected;
    if (!same)
        fprintf (stderr, "  got '%s', expected '%s'\n", normal? normal: "(null)", expected? expected: "(null)");
    free (normal);
    return same;
}

/* True when member_text_birthday read text as rc and, when OK, as expected. */
static bool
s_birthday (const char *text, member_text_date_rc_t rc, const char *expected)
{
    char out [11] = "";
    member_text_date_rc_t got = member_text_birthday (text, out);
    if (got != rc || (rc == MEMBER_TEXT_DATE_OK && strcmp (out, expected) != 0)) {
        fprintf (stderr, "  '%s': got %d '%s'\n", text, got, out);
        return false;
    }
    return true;
}

static bool
s_postal (const char *text, const char *expected)
{
    char out [9] = "";
    int rc = member_text_postal_code (text, out);
    return expected? rc == 0 && strcmp (out, expected) == 0: rc == -1;
}

int
main (void)
{
    /* readings: half-width katakana (voiced marks joined), hiragana, full-width space */
    CHECK (s_gives (member_text_kana ("ﾀｶﾊｼ"), "タカハシ"));
    CHECK (s_gives (member_text_kana ("ﾔﾏﾀﾞ ﾀﾛｳ"), "ヤマダ タロウ"));
    CHECK (s_gives (member_text_kana ("ｶﾞｯｺｳ"), "ガッコウ"));
    CHECK (s_gives (member_text_kana ("ﾊﾟｰｸ"), "パーク"));
    CHECK (s_gives (member_text_kana ("たかはし"), "タカハシ"));
    CHECK (s_gives (member_text_kana ("やまだ　はなこ"), "ヤマダ ハナコ"));
    CHECK (s_gives (member_text_kana ("すゞき"), "スヾキ"));
    CHECK (s_gives (member_text_kana ("ぁゖ"), "ァヶ"));
    CHECK (s_gives (member_text_kana (" スズキ・ジョー "), "スズキ・ジョー"));
    CHECK (s_gives (member_text_kana ("タカハシ"), "タカハシ"));   /* already normal: unchanged */
    CHECK (s_gives (member_text_kana ("山田"), "山田"));           /* not kana: left to the check */
    CHECK (s_gives (member_text_kana ("\xff"), NULL));

    /* phone numbers: full-width digits and hyphens, dashes, the long vowel mark */
    CHECK (s_gives (member_text_phone ("０９０－１２３４－５６７８"), "090-1234-5678"));
    CHECK (s_gives (member_text_phone ("090ー1234ー5678"), "090-1234-5678"));
    CHECK (s_gives (member_text_phone ("090ｰ1234ｰ5678"), "090-1234-5678"));
    CHECK (s_gives (member_text_phone ("090−1234−5678"), "090-1234-5678"));      /* U+2212 */
    CHECK (s_gives (member_text_phone ("090‐1234―5678"), "090-1234-5678"));      /* U+2010, U+2015 */
    CHECK (s_gives (member_text_phone ("＋８１　９０　１２３４　５６７８"), "+81 90 1234 5678"));
    CHECK (s_gives (member_text_phone ("（０３）１２３４－５６７８"), "(03)1234-5678"));
    CHECK (s_gives (member_text_phone ("090-1234-5678"), "090-1234-5678"));

    /* postal codes */
    CHECK (s_postal ("〒150-0002", "150-0002"));
    CHECK (s_postal ("〒 150-0002", "150-0002"));
    CHECK (s_postal ("〒１５０－０００２", "150-0002"));
    CHECK (s_postal ("1500002", "150-0002"));
    CHECK (s_postal ("１５０－０００１", "150-0001"));
    CHECK (s_postal ("150ー0001", "150-0001"));
    CHECK (s_postal ("150ｰ0001", "150-0001"));
    CHECK (s_postal ("〒", NULL));
    CHECK (s_postal ("150-000", NULL));
    CHECK (s_postal ("15-00001", NULL));
    CHECK (s_postal ("150--0001", NULL));
    CHECK (s_postal ("150-0001〒", NULL));

    /* prefectures, with and without 都, 府, 県 */
    CHECK (strcmp (member_text_prefecture ("東京"), "東京都") == 0);
    CHECK (strcmp (member_text_prefecture ("大阪"), "大阪府") == 0);
    CHECK (strcmp (member_text_prefecture ("京都"), "京都府") == 0);
    CHECK (strcmp (member_text_prefecture ("神奈川"), "神奈川県") == 0);
    CHECK (strcmp (member_text_prefecture ("鹿児島"), "鹿児島県") == 0);
    CHECK (strcmp (member_text_prefecture (" 東京都 "), "東京都") == 0);
    CHECK (strcmp (member_text_prefecture ("北海道"), "北海道") == 0);
    CHECK (member_text_prefecture ("北海") == NULL);
    CHECK (member_text_prefecture ("東") == NULL);
    CHECK (member_text_prefecture ("東京県") == NULL);
    CHECK (member_text_prefecture ("") == NULL);

    /* birthdays in the Western calendar */
    CHECK (s_birthday ("1990-01-02", MEMBER_TEXT_DATE_OK, "1990-01-02"));
    CHECK (s_birthday ("1990/1/2", MEMBER_TEXT_DATE_OK, "1990-01-02"));
    CHECK (s_birthday ("1990/01/02", MEMBER_TEXT_DATE_OK, "1990-01-02"));
    CHECK (s_birthday ("1990-1-2", MEMBER_TEXT_DATE_OK, "1990-01-02"));
    CHECK (s_birthday ("1990.1.2", MEMBER_TEXT_DATE_OK, "1990-01-02"));
    CHECK (s_birthday ("1990年1月2日", MEMBER_TEXT_DATE_OK, "1990-01-02"));
    CHECK (s_birthday ("１９９０年１月２日", MEMBER_TEXT_DATE_OK, "1990-01-02"));
    CHECK (s_birthday ("１９９０／１２／３１", MEMBER_TEXT_DATE_OK, "1990-12-31"));
    CHECK (s_birthday ("2000/2/29", MEMBER_TEXT_DATE_OK, "2000-02-29"));
    /* ... and in the Japanese one, Meiji to Reiwa, 元年 the first year */
    CHECK (s_birthday ("平成2年1月2日", MEMBER_TEXT_DATE_OK, "1990-01-02"));
    CHECK (s_birthday ("H2.1.2", MEMBER_TEXT_DATE_OK, "1990-01-02"));
    CHECK (s_birthday ("h2/1/2", MEMBER_TEXT_DATE_OK, "1990-01-02"));
    CHECK (s_birthday ("Ｈ２．１．２", MEMBER_TEXT_DATE_OK, "1990-01-02"));
    CHECK (s_birthday ("H02.01.02", MEMBER_TEXT_DATE_OK, "1990-01-02"));
    CHECK (s_birthday ("平成元年1月8日", MEMBER_TEXT_DATE_OK, "1989-01-08"));
    CHECK (s_birthday ("㍻2年1月2日", MEMBER_TEXT_DATE_OK, "1990-01-02"));
    CHECK (s_birthday ("令和6年4月1日", MEMBER_TEXT_DATE_OK, "2024-04-01"));
    CHECK (s_birthday ("R6.4.1", MEMBER_TEXT_DATE_OK, "2024-04-01"));
    CHECK (s_birthday ("令和元年5月1日", MEMBER_TEXT_DATE_OK, "2019-05-01"));
    CHECK (s_birthday ("昭和64年1月7日", MEMBER_TEXT_DATE_OK, "1989-01-07"));
    CHECK (s_birthday ("S50.10.10", MEMBER_TEXT_DATE_OK, "1975-10-10"));
    CHECK (s_birthday ("大正15年12月24日", MEMBER_TEXT_DATE_OK, "1926-12-24"));
    CHECK (s_birthday ("T1.7.30", MEMBER_TEXT_DATE_OK, "1912-07-30"));
    CHECK (s_birthday ("明治45年7月29日", MEMBER_TEXT_DATE_OK, "1912-07-29"));
    CHECK (s_birthday ("M33.1.1", MEMBER_TEXT_DATE_OK, "1900-01-01"));
    /* days an era did not reach */
    CHECK (s_birthday ("昭和64年1月8日", MEMBER_TEXT_DATE_OUTSIDE_ERA, NULL));
    CHECK (s_birthday ("平成元年1月7日", MEMBER_TEXT_DATE_OUTSIDE_ERA, NULL));
    CHECK (s_birthday ("平成31年5月1日", MEMBER_TEXT_DATE_OUTSIDE_ERA, NULL));
    CHECK (s_birthday ("令和元年4月30日", MEMBER_TEXT_DATE_OUTSIDE_ERA, NULL));
    CHECK (s_birthday ("明治46年1月1日", MEMBER_TEXT_DATE_OUTSIDE_ERA, NULL));
    /* ambiguous or wrong: refused */
    CHECK (s_birthday ("90/1/2", MEMBER_TEXT_DATE_UNREADABLE, NULL));        /* 1990 or 平成2? */
    CHECK (s_birthday ("H0.1.2", MEMBER_TEXT_DATE_UNREADABLE, NULL));
    CHECK (s_birthday ("H123.1.2", MEMBER_TEXT_DATE_UNREADABLE, NULL));
    CHECK (s_birthday ("1990/2/30", MEMBER_TEXT_DATE_UNREADABLE, NULL));
    CHECK (s_birthday ("1990/13/1", MEMBER_TEXT_DATE_UNREADABLE, NULL));
    CHECK (s_birthday ("1990/1/2/3", MEMBER_TEXT_DATE_UNREADABLE, NULL));
    CHECK (s_birthday ("1990年1月", MEMBER_TEXT_DATE_UNREADABLE, NULL));
    CHECK (s_birthday ("X2.1.2", MEMBER_TEXT_DATE_UNREADABLE, NULL));
    CHECK (s_birthday ("平成", MEMBER_TEXT_DATE_UNREADABLE, NULL));
    CHECK (s_birthday ("", MEMBER_TEXT_DATE_UNREADABLE, NULL));
    return check_report ("member text");
}
