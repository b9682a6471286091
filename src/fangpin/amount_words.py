"""An amount in Chinese capital numerals (大写金额), as a voucher writes it so that no digit can be added later:
1234567.89 → 壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分. Shown beside the figures when a person confirms an amount
they typed (the fund's fiscal inputs). The rules of 《会计基础工作规范》: 整 after 元 or 角, none after 分;
one 零 for a run of zeros inside the number."""

from __future__ import annotations

from decimal import Decimal

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL = ("", "拾", "佰", "仟")
_LARGE = ("", "万", "亿", "万亿")


def _whole(number: int) -> str:
    text = str(number)
    words: list[str] = []
    zero = False
    for index, char in enumerate(text):
        position = len(text) - 1 - index
        if char == "0":
            zero = True
        else:
            if zero and words:
                words.append("零")
            zero = False
            words.append(_DIGITS[int(char)] + _SMALL[position % 4])
        if position % 4 == 0 and position and any(c != "0" for c in text[max(0, index - 3):index + 1]):
            words.append(_LARGE[position // 4])
    return "".join(words)


def in_words(value: Decimal) -> str:
    """``value`` (at most two decimals, below 10^16 yuan) in capital numerals; raises ValueError otherwise."""
    if value != value.quantize(Decimal("0.01")) or abs(value) >= Decimal(10) ** 16:
        raise ValueError(f"{value} cannot be written in capital numerals (at most two decimals, below 10^16)")
    fen = int(abs(value) * 100)
    yuan, cents = divmod(fen, 100)
    jiao, fen_digit = divmod(cents, 10)
    sign = "负" if value < 0 else ""
    if fen == 0:
        return "零元整"
    text = f"{_whole(yuan)}元" if yuan else ""
    if jiao:
        text += f"{_DIGITS[jiao]}角"
    elif yuan and fen_digit:
        text += "零"
    text += f"{_DIGITS[fen_digit]}分" if fen_digit else "整"
    return sign + text
