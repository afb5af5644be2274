#ifndef FACEGATE_TIMEX_H
#define FACEGATE_TIMEX_H

/// 1 when the kernel counts the wall clock as synchronised (adjtimex: no TIME_ERROR, STA_UNSYNC clear),
/// else 0. Kept apart from <sys/timex.h> so that its time types do not leak into Swift.
int facegate_clock_is_synchronised(void);

#endif
