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
