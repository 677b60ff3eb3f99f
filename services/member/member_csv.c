/* member_csv.c - the columns of a member CSV file: the names an import reads (Japanese,
   English and the usual variants), yes/no cells and lists of tags */
#include "member_csv.h"
#include <string.h>
#include <strings.h>

static const struct {
    const char *key;
    const char *names [6];
} s_columns [COL_COUNT] = {
    [COL_EMAIL]       = { "email",        { "メールアドレス", "メール", "Eメール", "e-mail", "mail" } },
    [COL_NAME]        = { "name",         { "氏名", "名前", "お名前", "顧客名" } },
    [COL_NAME_KANA]   = { "name_kana",    { "フリガナ", "ふりがな", "カナ", "氏名カナ", "氏名(カナ)" } },
    [COL_PHONE]       = { "phone",        { "電話番号", "電話", "携帯電話", "tel" } },
    [COL_BIRTHDAY]    = { "birthday",     { "生年月日", "誕生日" } },
    [COL_POSTAL_CODE] = { "postal_code",  { "郵便番号", "〒" } },
    [COL_PREFECTURE]  = { "prefecture",   { "都道府県" } },
    [COL_ADDRESS]     = { "address",      { "住所" } },
    [COL_RANK]        = { "rank",         { "ランク", "会員ランク" } },
    [COL_TAGS]        = { "tags",         { "タグ" } },
    [COL_NOTE]        = { "note",         { "メモ", "備考" } },
    [COL_OPT_IN]      = { "email_opt_in", { "メール配信", "メルマガ", "メルマガ配信" } },
};

/* The export's columns that an import reads past: Kaiin sets them itself. */
static const char *const s_read_only_columns [] = {
    "会員ID", "id", "状態", "status", "カスタム属性", "attributes", "登録日時", "created_at",
    "更新日時", "updated_at", "退会日時", "withdrawn_at", NULL
};

int
member_csv_column_of (const char *header)
{
    char name [128];
    size_t used = 0;
    for (const char *c = header; *c && used < sizeof name - 4; c++) {
        if (strncmp (c, "（", 3) == 0 || strncmp (c, "）", 3) == 0) {
            name [used++] = strncmp (c, "（", 3) == 0? '(': ')';
            c += 2;
        }
        else
        if (*c != ' ' && strncmp (c, "\u3000", 3) != 0)
            name [used++] = *c;
        else
        if (*c != ' ')
            c += 2;
    }
    name [used] = 0;
    for (const char *const *read_only = s_read_only_columns; *read_only; read_only++)
        if (strcasecmp (name, *read_only) == 0)
            return COL_IGNORED;
    for (int column = 0; column < COL_COUNT; column++) {
        if (strcasecmp (name, s_columns [column].key) == 0)
            return column;
        for (int i = 0; i < 6 && s_columns [column].names [i]; i++)
            if (strcasecmp (name, s_columns [column].names [i]) == 0)
                return column;
    }
    return -1;
}

int
member_csv_yes_no (const char *text)
{
    static const char *const yes [] = { "1", "yes", "y", "true", "はい", "希望する", "する", "○", "〇", NULL };
    static const char *const no [] = { "0", "no", "n", "false", "いいえ", "希望しない", "しない", "×", NULL };
    for (const char *const *word = yes; *word; word++)
        if (strcasecmp (text, *word) == 0)
            return 1;
    for (const char *const *word = no; *word; word++)
        if (strcasecmp (text, *word) == 0)
            return 0;
    return -1;
}

const char *
member_csv_word (const char *value, bool japanese)
{
    static const char *const words [][2] = {
        { "free", "無料会員" }, { "paid", "有料会員" }, { "withdrawn", "退会済み" },
        { "yes", "はい" }, { "no", "いいえ" }
    };
    for (size_t i = 0; japanese && i < sizeof words / sizeof words [0]; i++)
        if (strcmp (value, words [i][0]) == 0)
            return words [i][1];
    return value;
}

size_t
member_csv_split_tags (char *copy, char **tags, size_t max)
{
    size_t count = 0;
    char *cursor = copy;
    while (*cursor && count < max) {
        size_t length = strcspn (cursor, ",;");
        char *comma = strstr (cursor, "、");
        if (comma && (size_t) (comma - cursor) < length)
            length = comma - cursor;
        char *end = cursor + length;
        char next = *end;
        *end = 0;
        while (*cursor == ' ')
            cursor++;
        for (char *tail = end - 1; tail >= cursor && *tail == ' '; tail--)
            *tail = 0;
        if (*cursor)
            tags [count++] = cursor;
        cursor = next? end + (next == ',' || next == ';'? 1: 3): end;
    }
    return count;
}
