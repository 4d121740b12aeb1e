/* Unions are overlapping offsets. */
typedef union number
{
    int i;
    long long ll;
    double d;
    unsigned char bytes[8];
} number;

typedef struct value
{
    int kind;
    union
    {
        number n;
        const char *text;
    } u;
    union named_inner { short s; char c[3]; } other;
} value;
