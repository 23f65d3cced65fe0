"""Deterministic generator of tokenizer test inputs, one NDJSON {"text": ...}
per line: gen_inputs.py COUNT SEED. Every input mixes fragments of kinds that
tokenizers get wrong: whitespace runs, newlines, tabs, digits, punctuation,
contractions (also uppercase), accents, combining marks, CJK, emoji with ZWJ
sequences and modifiers, mixed scripts, long inputs and random code points.

U+0000 is left out: JSON text on the NDJSON path cannot carry it (the C unit
tests cover it through the API)."""
import json
import random
import sys
import unicodedata

WORDS = ("the of and to in is was that for it with as his on be at by I this had "
         "not are but from or have an they which one you were her all she there "
         "would their we him been has when who will more no if out so said what up "
         "its about into than them can only other new some could time these two may "
         "then do first any my now such like our over man me even most made after "
         "also did many before must through back years where much your way well "
         "Hello World GPT tokenizer Llama llorch naïve café résumé coöperate").split()
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'VE",
                "'M", "'LL", "'D", "'", "''", "n't", "’s", "'x"]
SPACES = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n", "\n ", "\t\t", "\x0b",
          "\x0c", "\u00a0", "\u2000", "\u2003", "\u200a", "\u3000", "\u2028", "\u2029",
          "\u202f", "\u205f", "\u1680", "\u180e", "\u200b"]
# Not U+0085 (NEL) nor U+FEFF: JavaScript's \s (gpt-3-encoder) differs from
# Unicode White_Space on exactly these two; llorch follows White_Space, as
# the original GPT-2 encoder's regex module, tiktoken and Hugging Face do.
PUNCT = list("!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~") + ["...", "--", "—", "–", "«", "»",
          "¿", "¡", "§", "©", "®", "°", "±", "×", "÷", "€", "£", "¥", "•", "…", "‰"]
ACCENTED = "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝßœŒšŠžŽłŁąęėįųūčćńśźż"
COMBINING = [chr(c) for c in range(0x300, 0x370)] + ["\u20dd", "\u0489", "\u1ab0"]
SCRIPTS = [(0x0391, 0x03c9), (0x0410, 0x044f), (0x05d0, 0x05ea), (0x0627, 0x064a),
           (0x0905, 0x0939), (0x0e01, 0x0e30), (0x3041, 0x3096), (0x30a1, 0x30fa),
           (0xac00, 0xd7a3), (0x4e00, 0x9fff), (0x10a0, 0x10ff), (0x0531, 0x0556)]
DIGITS = ["0123456789", "٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९", "①②③", "½¼¾", "²³¹", "Ⅻ"]
EMOJI = ["😀", "🦙", "👍", "👍🏽", "❤️", "🇩🇪", "🇯🇵", "👨‍👩‍👧‍👦", "🏳️‍🌈", "👩🏾‍💻",
         "🧑‍🤝‍🧑", "✈️", "☕", "🎉", "🤖", "🫠", "#️⃣", "1️⃣", "🏴‍☠️", "😶‍🌫️"]


def random_codepoint(rng):
    """A random code point assigned in Unicode 14 (this Python's database).
    The engines compared use different Unicode versions (PCRE2 10.42: 15.0,
    Node 20's ICU: 17.0); a character assigned later is a letter to one and
    unassigned to the other, which splits words differently. Characters
    assigned by 14.0 keep their categories in all of them."""
    while True:
        plane = rng.random()
        if plane < 0.7:
            cp = rng.randrange(0x20, 0x10000)
        elif plane < 0.95:
            cp = rng.randrange(0x10000, 0x20000)
        else:
            cp = rng.randrange(0x20000, 0x110000)
        # (U+0085 and U+FEFF: see SPACES)
        if cp not in (0x85, 0xFEFF) and unicodedata.category(chr(cp)) not in ("Cn", "Cs"):
            return chr(cp)


def fragment(rng):
    kind = rng.randrange(13)
    if kind == 0:
        return rng.choice(WORDS)
    if kind == 1:
        return rng.choice(WORDS) + rng.choice(CONTRACTIONS)
    if kind == 2:
        return rng.choice(SPACES) * rng.randint(1, 4)
    if kind == 3:
        d = rng.choice(DIGITS)
        return "".join(rng.choice(d) for _ in range(rng.randint(1, 12)))
    if kind == 4:
        return "".join(rng.choice(PUNCT) for _ in range(rng.randint(1, 4)))
    if kind == 5:
        return "".join(rng.choice(ACCENTED) for _ in range(rng.randint(1, 6)))
    if kind == 6:
        base = rng.choice("aeiouAEIOUnc" + ACCENTED)
        return base + "".join(rng.choice(COMBINING) for _ in range(rng.randint(1, 3)))
    if kind == 7:
        lo, hi = rng.choice(SCRIPTS)
        return "".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 8)))
    if kind == 8:
        return "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 3)))
    if kind == 9:
        return "".join(random_codepoint(rng) for _ in range(rng.randint(1, 5)))
    if kind == 10:
        return chr(rng.randrange(1, 0x20))
    if kind == 11:
        return rng.choice(["<|endoftext|>", "<s>", "</s>", "<unk>", "<0x41>", "▁", "Ġ"])
    return rng.choice(WORDS).upper()


def make_input(rng, i):
    if i % 97 == 0:
        n = rng.randint(300, 1500)  # long inputs
    else:
        n = rng.randint(1, 12)
    parts = []
    for _ in range(n):
        parts.append(fragment(rng))
        if rng.random() < 0.5:
            parts.append(" ")
    return "".join(parts)


def main():
    count, seed = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    out = sys.stdout
    for i in range(count):
        out.write(json.dumps({"text": make_input(rng, i)}, ensure_ascii=False) + "\n")


main()
