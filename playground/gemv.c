/* One row times a weight matrix: the product a decode step computes 49 times (GPT-2 small).

   Decoding one token multiplies a single row x (in) by every weight matrix, so the step's speed is
   the speed of reading the weights from memory. MKL's one-row product reads them at ~60 % of the
   machine's bandwidth on the AMD CPUs we run on; this loop, compiled by the C compiler, reads them
   at ~90 %. playground/kernel.py compiles and loads it; playground/model.py (Linear) calls it and
   falls back to torch where no compiler is found.

   Layout: the weight is stored as an (in, out) row-major block (GPT-2's Conv1D layout; see
   GPT.lay_out_for_decoding), so y = b + sum_i x[i] * W[i, :], a sum of scaled rows. Each thread
   owns a contiguous range of outputs and walks all inputs, eight rows at a time, over its range,
   reading every weight exactly once. Threads come from torch's own OpenMP pool (the library is
   loaded after torch, so its libgomp is the one already in the process). */
#ifdef _OPENMP
#include <omp.h>
#endif

/* y[o0:o1] += sum_i x[i] * w[i, o0:o1]; one copy per instruction set, picked at load time. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void add_scaled_rows(const float *w, const float *x, float *y, long in, long out, long o0, long o1) {
    long i = 0;
    for (; i + 8 <= in; i += 8) { /* eight rows per pass: eight read streams keep the memory busy */
        const float *w0 = w + i * out, *w1 = w0 + out, *w2 = w1 + out, *w3 = w2 + out;
        const float *w4 = w3 + out, *w5 = w4 + out, *w6 = w5 + out, *w7 = w6 + out;
        const float x0 = x[i], x1 = x[i + 1], x2 = x[i + 2], x3 = x[i + 3];
        const float x4 = x[i + 4], x5 = x[i + 5], x6 = x[i + 6], x7 = x[i + 7];
#pragma omp simd
        for (long o = o0; o < o1; o++)
            y[o] += (x0 * w0[o] + x1 * w1[o] + x2 * w2[o] + x3 * w3[o]) + (x4 * w4[o] + x5 * w5[o] + x6 * w6[o] + x7 * w7[o]);
    }
    for (; i < in; i++) {
        const float *wi = w + i * out;
        const float xi = x[i];
#pragma omp simd
        for (long o = o0; o < o1; o++) y[o] += xi * wi[o];
    }
}

/* y (out) = x (in) @ w (in, out) + b (out, or NULL), on `threads` threads. */
void one_row_product(const float *w, const float *x, const float *b, float *y, long in, long out, int threads) {
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        long n = 1, t = 0;
#ifdef _OPENMP
        n = omp_get_num_threads();
        t = omp_get_thread_num();
#endif
        long chunk = ((out + n - 1) / n + 15) / 16 * 16; /* a multiple of 16 floats: one cache line */
        long o0 = t * chunk, o1 = o0 + chunk < out ? o0 + chunk : out;
        for (long o = o0; o < o1; o++) y[o] = b ? b[o] : 0.0f;
        if (o0 < o1) add_scaled_rows(w, x, y, in, out, o0, o1);
    }
}
