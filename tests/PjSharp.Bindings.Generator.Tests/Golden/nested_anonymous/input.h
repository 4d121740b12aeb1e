/* Nested unnamed records: named members become nested types, C11 anonymous members are flattened. */
typedef struct packet
{
    struct
    {
        void *pool;
        int port;
        struct
        {
            char key[3];
            long long when;
        } deep;
    } tp_info;
    union
    {
        int as_int;
        float as_float;
    } body;
    struct
    {
        short x;
        short y;
    };
    union
    {
        unsigned int raw;
        unsigned char octet;
    };
    int last;
} packet;

/* A nested type name that would collide with a member gets a '_' suffix. */
typedef struct clash
{
    struct { int a; } part;
    int part_t;
} clash;
