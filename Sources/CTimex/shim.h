// The kernel's clock discipline state (ntp_adjtime), which the Glibc module leaves out.
#include <sys/timex.h>
