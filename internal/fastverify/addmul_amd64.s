//go:build !purego

#include "textflag.h"

// ROW8 adds DX·x[0:8] to z[0:8], the high limbs on the CF chain (ADCX)
// and the old z limbs on the OF chain (ADOX), the carry into the next
// limb in R9 before and after; R8 and R10 are scratch. MULX leaves the
// flags alone.
#define ROW8(x, z) \
	MULXQ 0(x), R8, R10 \
	ADCXQ R9, R8 \
	ADOXQ 0(z), R8 \
	MOVQ  R8, 0(z) \
	MULXQ 8(x), R8, R9 \
	ADCXQ R10, R8 \
	ADOXQ 8(z), R8 \
	MOVQ  R8, 8(z) \
	MULXQ 16(x), R8, R10 \
	ADCXQ R9, R8 \
	ADOXQ 16(z), R8 \
	MOVQ  R8, 16(z) \
	MULXQ 24(x), R8, R9 \
	ADCXQ R10, R8 \
	ADOXQ 24(z), R8 \
	MOVQ  R8, 24(z) \
	MULXQ 32(x), R8, R10 \
	ADCXQ R9, R8 \
	ADOXQ 32(z), R8 \
	MOVQ  R8, 32(z) \
	MULXQ 40(x), R8, R9 \
	ADCXQ R10, R8 \
	ADOXQ 40(z), R8 \
	MOVQ  R8, 40(z) \
	MULXQ 48(x), R8, R10 \
	ADCXQ R9, R8 \
	ADOXQ 48(z), R8 \
	MOVQ  R8, 48(z) \
	MULXQ 56(x), R8, R9 \
	ADCXQ R10, R8 \
	ADOXQ 56(z), R8 \
	MOVQ  R8, 56(z)

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
