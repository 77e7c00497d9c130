#include <sqlite3.h>

/// Turns off what a database file someone else made could use against its reader: functions run
/// from its views and triggers, and writes that corrupt it on purpose. Swift cannot call the
/// variadic sqlite3_db_config itself.
static inline int locktop_sqlite3_harden(sqlite3 *db) {
    int status = sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)0);
    if (status != SQLITE_OK) return status;
    return sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)0);
}
