// The kernel's clock discipline state (ntp_adjtime), which the Glibc module leaves out.
#include <sys/timex.h>

#include <time.h>

// The offset from UTC, in seconds, that libc reads for `when` (from /etc/localtime, or TZ); sets *ok to 0
// when it cannot. In C: Swift code that names `struct tm` trips the member import checks of the files
// beside it on Linux.
static inline long fg_utc_offset(long long when, int *ok) {
    // localtime_r need not look at the zone again (glibc's does not): tzset reads /etc/localtime anew
    // when it was relinked since, so a zone changed after the start is the one read here too.
    tzset();
    time_t t = (time_t)when;
    struct tm parts;
    if (localtime_r(&t, &parts) == NULL) {
        *ok = 0;
        return 0;
    }
    *ok = 1;
    return parts.tm_gmtoff;
}
