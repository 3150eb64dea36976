//go:build !purego

#include "textflag.h"

// LIMB adds DX·x[off] and the carry in `in` to z[off]: the low half plus
// the carry on the CF chain (ADCX), the old z limb on the OF chain (ADOX);
// the high half, the carry into the next limb, lands in `out`. R8 is
// scratch. MULX leaves the flags alone.
#define LIMB(off, x, z, in, out) \
	MULXQ off(x), R8, out \
	ADCXQ in, R8 \
	ADOXQ off(z), R8 \
	MOVQ  R8, off(z)

// ROW8 adds DX·x[0:8] to z[0:8], eight LIMBs whose carry alternates
// between R9 and R10: in R9 before and after.
#define ROW8(x, z) \
	LIMB(0, x, z, R9, R10) \
	LIMB(8, x, z, R10, R9) \
	LIMB(16, x, z, R9, R10) \
	LIMB(24, x, z, R10, R9) \
	LIMB(32, x, z, R9, R10) \
	LIMB(40, x, z, R10, R9) \
	LIMB(48, x, z, R9, R10) \
	LIMB(56, x, z, R10, R9)

// func addMulVVWADX(z, x []uint64, y uint64) (carry uint64)
//
// z[i] += x[i]·y for i < len(x): eight limbs a turn, then one at a time. MULX
// leaves the flags alone, so the high limbs ride the CF chain (ADCX) and
// the old z limbs the OF chain (ADOX) across the whole loop, whose
// bookkeeping (LEAQ, JCXZQ, JMP) does not touch the flags either; both
// carries are folded into the last high limb at the end.
TEXT ·addMulVVWADX(SB), NOSPLIT, $0-64
	MOVQ z_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), CX
	SHRQ $3, CX   // turns
	MOVQ y+48(FP), DX
	MOVQ DX, R12  // y again, for MULQ
	XORQ R11, R11 // zero
	XORQ R9, R9   // carry into the next limb
	TESTQ CX, CX  // CF = OF = 0
	JZ   done

loop:
	ROW8(SI, DI)
	LEAQ  64(SI), SI
	LEAQ  64(DI), DI
	LEAQ  -1(CX), CX
	JCXZQ done
	JMP   loop

done:
	ADCXQ R11, R9
	ADOXQ R11, R9
	MOVQ  x_len+32(FP), CX
	ANDQ  $7, CX  // limbs left
	JZ    ret

tail:
	MOVQ (SI), AX
	MULQ R12
	ADDQ R9, AX
	ADCQ $0, DX
	ADDQ AX, (DI)
	ADCQ $0, DX
	MOVQ DX, R9
	ADDQ $8, SI
	ADDQ $8, DI
	DECQ CX
	JNZ  tail

ret:
	MOVQ R9, carry+56(FP)
	RET

// func montReduceADX(t, n []uint64, n0inv uint64) (over uint64)
//
// Montgomery's reduction of t (2·len(n) limbs) in place, len(n) a positive
// multiple of 8: for each row i, t += (t[i]·n0inv mod 2^64)·n·2^(64i), which
// zeroes t[i]; the row's carry goes into t[i+len(n)] and what overflows
// that limb into the next row's (over, returned after the last row). Each
// row is addMulVVWADX's loop.
TEXT ·montReduceADX(SB), NOSPLIT, $0-64
	MOVQ t_base+0(FP), DI
	MOVQ n_base+24(FP), SI
	MOVQ n_len+32(FP), AX // rows left
	XORQ BX, BX           // over
	XORQ R11, R11         // zero

row:
	MOVQ  (DI), DX
	IMULQ n0inv+48(FP), DX // q
	MOVQ  SI, R12
	MOVQ  DI, R13
	MOVQ  n_len+32(FP), CX
	SHRQ  $3, CX
	XORQ  R9, R9           // CF = OF = 0

turn:
	ROW8(R12, R13)
	LEAQ  64(R12), R12
	LEAQ  64(R13), R13
	LEAQ  -1(CX), CX
	JCXZQ rowdone
	JMP   turn

rowdone:
	ADCXQ R11, R9
	ADOXQ R11, R9
	XORQ  R8, R8
	ADDQ  R9, (R13)
	ADCQ  $0, R8
	ADDQ  BX, (R13)
	ADCQ  $0, R8
	MOVQ  R8, BX
	ADDQ  $8, DI
	DECQ  AX
	JNZ   row
	MOVQ  BX, over+56(FP)
	RET
