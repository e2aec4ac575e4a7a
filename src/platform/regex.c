/* platform regex: platform_regex_match for JSON Schema "pattern" — POSIX regcomp/regexec, which
 * Windows lacks and gets from PCRE2's POSIX interface (same names and signatures). */
#ifdef _WIN32
#define PCRE2_STATIC /* linked statically (scripts/build-windows.sh) */
#include <pcre2posix.h>
#else
#include <regex.h>
#endif

#include "platform.h"

int platform_regex_match(const char *pattern, const char *s)
{
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
        return -1;
    int m = regexec(&re, s, 0, NULL, 0);
    regfree(&re);
    return m == 0;
}
