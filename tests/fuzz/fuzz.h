/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the fuzz targets share. */
#ifndef EF_FUZZ_H
#define EF_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

/* An invariant of the code under test: a crash the fuzzer reports. */
#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "%s:%d: broken: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                      \
		}                                                                     \
	} while (0)

#endif /* EF_FUZZ_H */
