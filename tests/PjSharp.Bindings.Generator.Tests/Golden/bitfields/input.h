/* Bitfields: a private storage field per unit plus get/set properties; C cannot take their offsetof. */
typedef struct flags
{
    unsigned int ready : 1;
    unsigned int mode : 3;
    int delta : 4;           /* signed: reads sign-extend */
    unsigned int : 0;        /* forces the next unit */
    unsigned int big : 20;
    char after;              /* an ordinary field still gets an offset entry */
    unsigned char small : 2;
    unsigned char : 2;       /* unnamed padding bits */
    unsigned char more : 4;
} flags;
