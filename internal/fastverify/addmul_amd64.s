//go:build !purego

#include "textflag.h"

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
	MULXQ 0(SI), R8, R10
	ADCXQ R9, R8
	ADOXQ 0(DI), R8
	MOVQ  R8, 0(DI)
	MULXQ 8(SI), R8, R9
	ADCXQ R10, R8
	ADOXQ 8(DI), R8
	MOVQ  R8, 8(DI)
	MULXQ 16(SI), R8, R10
	ADCXQ R9, R8
	ADOXQ 16(DI), R8
	MOVQ  R8, 16(DI)
	MULXQ 24(SI), R8, R9
	ADCXQ R10, R8
	ADOXQ 24(DI), R8
	MOVQ  R8, 24(DI)
	MULXQ 32(SI), R8, R10
	ADCXQ R9, R8
	ADOXQ 32(DI), R8
	MOVQ  R8, 32(DI)
	MULXQ 40(SI), R8, R9
	ADCXQ R10, R8
	ADOXQ 40(DI), R8
	MOVQ  R8, 40(DI)
	MULXQ 48(SI), R8, R10
	ADCXQ R9, R8
	ADOXQ 48(DI), R8
	MOVQ  R8, 48(DI)
	MULXQ 56(SI), R8, R9
	ADCXQ R10, R8
	ADOXQ 56(DI), R8
	MOVQ  R8, 56(DI)
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
	MULXQ 0(R12), R8, R10
	ADCXQ R9, R8
	ADOXQ 0(R13), R8
	MOVQ  R8, 0(R13)
	MULXQ 8(R12), R8, R9
	ADCXQ R10, R8
	ADOXQ 8(R13), R8
	MOVQ  R8, 8(R13)
	MULXQ 16(R12), R8, R10
	ADCXQ R9, R8
	ADOXQ 16(R13), R8
	MOVQ  R8, 16(R13)
	MULXQ 24(R12), R8, R9
	ADCXQ R10, R8
	ADOXQ 24(R13), R8
	MOVQ  R8, 24(R13)
	MULXQ 32(R12), R8, R10
	ADCXQ R9, R8
	ADOXQ 32(R13), R8
	MOVQ  R8, 32(R13)
	MULXQ 40(R12), R8, R9
	ADCXQ R10, R8
	ADOXQ 40(R13), R8
	MOVQ  R8, 40(R13)
	MULXQ 48(R12), R8, R10
	ADCXQ R9, R8
	ADOXQ 48(R13), R8
	MOVQ  R8, 48(R13)
	MULXQ 56(R12), R8, R9
	ADCXQ R10, R8
	ADOXQ 56(R13), R8
	MOVQ  R8, 56(R13)
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
