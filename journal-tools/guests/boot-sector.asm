; ttj's deterministic boot-sector guest (assembled with nasm; see build-boot-sector.sh).
; It keeps a 32-bit counter at physical address 0x10000 (magic "TTJC" at 0x10004),
; increments it about every 50 ms (BIOS wait), draws it in hex on the VGA text screen
; (row 12, column 36), dirties one page per step in a 256 KiB region at 0x20000
; (page = counter mod 64), and every 8 steps writes a sector filled with the counter
; to LBA 64 + (counter/8 mod 16) of the boot disk.
bits 16
org 0x7c00

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    sti
    mov [drive], dl
    mov ax, 0x1000
    mov fs, ax
    mov dword [fs:0], 0
    mov dword [fs:4], 0x434a5454     ; "TTJC"

step:
    inc dword [fs:0]
    mov eax, [fs:0]
    ; draw the counter: 8 hex digits, white on blue
    mov bx, 0xb800
    mov es, bx
    mov di, 160*12 + 72
    mov cx, 8
.digit:
    rol eax, 4
    mov bl, al
    and bl, 0x0f
    add bl, '0'
    cmp bl, '9'
    jbe .put
    add bl, 7
.put:
    mov [es:di], bl
    mov byte [es:di+1], 0x1f
    add di, 2
    loop .digit
    ; dirty page (counter mod 64) of the region at 0x20000
    mov eax, [fs:0]
    and ax, 63
    shl ax, 8
    add ax, 0x2000
    mov es, ax
    mov eax, [fs:0]
    mov [es:0], eax
    mov [es:0x800], eax
    ; every 8 steps, write a sector filled with the counter
    test byte [fs:0], 7
    jnz .wait
    push ds
    pop es
    mov di, 0x8000
    mov cx, 128
    rep stosd
    mov eax, [fs:0]
    shr eax, 3
    and eax, 15
    add eax, 64
    mov [dap.lba], eax
    mov si, dap
    mov ah, 0x43
    xor al, al
    mov dl, [drive]
    int 0x13
.wait:
    mov ah, 0x86                      ; BIOS wait CX:DX microseconds
    xor cx, cx
    mov dx, 50000
    int 0x15
    jmp step

drive: db 0
align 4
dap:
    db 0x10, 0
    dw 1
    dw 0x8000, 0
.lba:
    dd 0, 0

times 510-($-$$) db 0
dw 0xaa55
