/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reproducible random numbers for the randomized unit tests (xorshift64*).
 * A test file may #define TEST_RNG_SEED before including this to get its
 * own sequence.
 */
#ifndef EF_TEST_RNG_H
#define EF_TEST_RNG_H

#include <linux/types.h>

#ifndef TEST_RNG_SEED
#define TEST_RNG_SEED 0x2545f4914f6cdd1dull
#endif

static __u64 rng = TEST_RNG_SEED;

static inline __u64 rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static inline unsigned int rndn(unsigned int n)
{
	return (unsigned int)(rnd() % n);
}

#endif /* EF_TEST_RNG_H */
