/* Owned native objects get SafeHandles whose release calls the named function. */
typedef struct pool pool;
typedef struct message { int refs; pool *owner; } message;

pool *pool_create(const char *name);
void pool_release(pool *p);
int message_dec_ref(message *m);
