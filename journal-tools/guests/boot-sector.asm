; ttj's deterministic boot-sector guest (nasm -f bin; see build-boot-sector.sh).
;
; Memory layout (guest physical addresses; see docs/qemu.md):
;   0x00010000  u32  counter, incremented once per step (starts at 1)
;   0x00010004  u32  magic "TTJC"
;   0x00100000  1 MiB region (256 pages of 4 KiB) dirtied every step: at step c the
;               pages (4c + k) mod 256, k = 0..3, get the u32 c at offsets 0 and 4092
;   0x000B8000  VGA text: "TTJ cccccccc" (hex, white on blue) at row 0, and the
;               counter in big 3x5 block digits (8 hex digits, grey on black) at rows 10..14
; Disk: when the primary IDE channel has a master drive (the boot disk itself when
; booted with -drive file=boot.img,format=raw), every step writes one sector by ATA
; PIO at LBA 64 + (c mod 64), filled with the u32 c (128 times). No drive, or a
; drive that does not answer in time, is skipped.
; Tone (only when assembled with -DTONE: out/boot-tone.img, build-boot-sector.sh --tone):
; PIT channel 2 in mode 3 (square wave) with divisor TONE_DIVISOR, gated to the PC
; speaker (port 0x61 bits 0 and 1) before the first step and left on: a steady
; 1193182 / 1356 = 879.9 Hz square wave. Everything else is the same as without it.
; Pace: one step, then a BIOS wait (int 15h, ah=86h) of 50 ms: ~20 steps/s under
; both KVM and TCG. The work of a step is tiny, so a pause almost always lands in
; the wait, between steps.
;
; Addresses above 1 MiB are reached in "unreal mode": FS gets a 4 GiB limit from a
; flat descriptor, re-established every step (a BIOS call may reload FS).
bits 16
org 0x7c00

COUNTER   equ 0x10000
REGION    equ 0x100000
LBA_BASE  equ 64
LBA_COUNT equ 64
TONE_DIVISOR equ 1356

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    cld
    in al, 0x92                 ; fast A20 on
    or al, 2
    and al, 0xfe
    out 0x92, al
    mov dx, 0x3f6               ; ATA: no interrupts (nIEN); we poll
    mov al, 2
    out dx, al
    push word 0xb800             ; clear the screen (the BIOS's text)
    pop es
    xor di, di
    mov ax, 0x0720
    mov cx, 80*25
    rep stosw
    call unreal
    mov dword [fs:dword COUNTER], 0
    mov dword [fs:dword COUNTER+4], 0x434a5454     ; "TTJC"
%ifdef TONE
    mov al, 0xb6                 ; PIT: channel 2, lobyte/hibyte, mode 3, binary
    out 0x43, al
    mov ax, TONE_DIVISOR
    out 0x42, al
    mov al, ah
    out 0x42, al
    in al, 0x61                  ; speaker: gate channel 2 (bit 0), data on (bit 1)
    or al, 3
    out 0x61, al
%endif

step:
    call unreal
    inc dword [fs:dword COUNTER]
    mov ebp, [fs:dword COUNTER]         ; ebp = c for the whole step

    ; --- dirty 4 pages of the region: (4c + k) mod 256, k = 0..3
    mov cx, 4
    mov ebx, ebp
    shl ebx, 2
.page:
    movzx esi, bl
    shl esi, 12
    add esi, REGION
    mov [fs:esi], ebp
    mov [fs:esi+4092], ebp
    inc bl
    loop .page

    ; --- VGA text: small hex at row 0, big digits at rows 10..14
    push word 0xb800
    pop es
    xor di, di
    mov eax, 0x1f541f54          ; "TT"
    stosd
    mov eax, 0x1f201f4a          ; "J "
    stosd
    mov eax, ebp
    mov cx, 8
.hex:
    rol eax, 4
    push ax
    call nibble
    mov ah, 0x1f
    stosw
    pop ax
    loop .hex

    mov di, 160*10 + 16          ; row 10, column 8
    mov edx, ebp
    mov cl, 8
.big:
    rol edx, 4
    mov bx, dx
    and bx, 15
    add bx, bx
    mov bx, [font + bx]          ; 15 bits, row-major, top-left in bit 14
    push di
    mov ch, 15
.cell:
    mov ax, 0x0020               ; off: black
    shl bx, 1
    test bh, 0x80
    jz .off
    mov ah, 0x70                 ; on: light grey background
.off:
    stosw
    stosw
    dec ch
    jz .celldone
    mov al, ch
    aam 3                        ; ah = ch / 3, al = ch mod 3
    test al, al
    jnz .cell
    add di, 160 - 12             ; next row of the glyph
    jmp .cell
.celldone:
    pop di
    add di, 16
    dec cl
    jnz .big

    ; --- one sector by ATA PIO on the primary master: LBA_BASE + c mod LBA_COUNT
    mov dx, 0x1f6
    mov al, 0xe0                 ; master, LBA
    out dx, al
    call ready                   ; BSY clear, DRDY set?
    jc .wait
    mov eax, ebp
    and eax, LBA_COUNT - 1
    add eax, LBA_BASE
    mov dx, 0x1f3
    out dx, al                   ; LBA 0..7
    inc dx
    shr eax, 8
    out dx, al                   ; LBA 8..15
    inc dx
    mov al, ah
    out dx, al                   ; LBA 16..23 (0 here)
    mov dl, 0xf2
    mov al, 1
    out dx, al                   ; one sector
    mov dl, 0xf7
    mov al, 0x30                 ; WRITE SECTORS
    out dx, al
    call ready
    jc .wait
    test al, 8                   ; DRQ
    jz .wait
    mov dl, 0xf0
    mov cx, 128
.word:
    mov eax, ebp
    out dx, ax
    shr eax, 16
    out dx, ax
    loop .word
    call ready                   ; the write is done when BSY clears

.wait:
    mov ah, 0x86                 ; BIOS wait CX:DX microseconds
    xor cx, cx
    mov dx, 50000
    int 0x15
    jmp step

; AL low nibble -> ASCII hex digit in AL
nibble:
    and al, 15
    add al, '0'
    cmp al, '9'
    jbe .d
    add al, 7
.d:
    ret

; Polls the primary channel's status until BSY is clear. CF=1 when there is no drive
; (status 0 or 0xff, no DRDY), an error, or a timeout. AL = status.
ready:
    mov dx, 0x1f7
    mov ecx, 0x100000
.poll:
    in al, dx
    cmp al, 0xff
    je .none
    test al, 0x80
    jz .idle
    loop .poll, ecx
.none:
    stc
    ret
.idle:
    test al, 0x40                ; DRDY
    jz .none
    test al, 1                   ; ERR
    jnz .none
    clc
    ret

; Unreal mode: FS = flat 4 GiB data segment, back in real mode.
unreal:
    cli
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp $+2
    mov bx, 8
    mov fs, bx
    and al, 0xfe
    mov cr0, eax
    xor bx, bx
    mov fs, bx
    sti
    ret

; 3x5 hex font: rows top to bottom, 3 bits each, in bits 14..0.
font:
    dw 0b111101101101111, 0b010110010010111, 0b111001111100111, 0b111001111001111
    dw 0b101101111001001, 0b111100111001111, 0b111100111101111, 0b111001001001001
    dw 0b111101111101111, 0b111101111001111, 0b111101111101101, 0b110101110101110
    dw 0b111100100100111, 0b110101101101110, 0b111100111100111, 0b111100111100100

align 8
gdt:
    dq 0
    dq 0x00cf92000000ffff        ; flat data: base 0, limit 4 GiB, writable
gdtr:
    dw gdtr - gdt - 1
    dd gdt

times 510-($-$$) db 0
dw 0xaa55
