"""ssl_core.docstrings: one-line parameter descriptions from a factory's ``Args:`` section."""

from __future__ import annotations

from ssl_core.docstrings import _one_line, param_docs


def factory(width: int = 4, lr: float = 0.1, mode: str = "a", seed: int = 0):
    """Build a thing.

    A paragraph about it.

    Args:
        width (int): channels of the first layer. Doubled per stage.
        lr: learning rate, e.g. 0.1 for SGD;
            larger diverges.
        mode: one of a, b:
            a: the first;
            b: the second.

        seed: the seed. Of everything

    Returns:
        the thing.
        notaparam: not an argument.
    """


def test_entries_are_cut_at_the_first_sentence_end():
    docs = param_docs(factory)
    assert docs == {"width": "channels of the first layer.",
                    "lr": "learning rate, e.g. 0.1 for SGD",
                    "mode": "one of a, b: a: the first",
                    "seed": "the seed."}


def test_continuation_lines_are_joined():
    def f(x):
        """F.

        Args:
            x: a long
                description on
                three lines
        """

    assert param_docs(f) == {"x": "a long description on three lines"}


def test_section_names_and_the_end_of_the_section():
    def arguments(a, b):
        """Arguments of f.

        Arguments:
            a: first
        Raises:
            b: not a parameter
        """

    def parameters(a):
        """Parameters of f.

        Parameters:
            a: the a

        Prose after the section.
            b: indented, but after prose ended the section
        """

    assert param_docs(arguments) == {"a": "first"}
    assert param_docs(parameters) == {"a": "the a"}


def test_no_docstring_or_no_args_section():
    def bare(x):
        pass

    def prose(x):
        """Does things with x: nothing more."""

    assert param_docs(bare) == {} and param_docs(prose) == {}


def test_a_class_s_docstring_then_its_init_s():
    class Thing:
        """A thing.

        Args:
            depth: from the class.
        """

        def __init__(self, depth: int, width: int):
            """Make one.

            Args:
                depth: from __init__ (ignored: the class says it).
                width: from __init__.
            """

    assert param_docs(Thing) == {"depth": "from the class.", "width": "from __init__."}


def test_one_line_keeps_abbreviations_and_numbers():
    assert _one_line("Weight of Eq. 3 in the loss. Larger is smoother.") == "Weight of Eq. 3 in the loss."
    assert _one_line("See (cf. Sec. 4) and Fig. 2 vs. the rest. More.") == "See (cf. Sec. 4) and Fig. 2 vs. the rest."
    assert _one_line("A ratio of 0.5 here. More.") == "A ratio of 0.5 here."
    assert _one_line("first; second") == "first"
    assert _one_line("no end at all") == "no end at all"
    assert _one_line("ends here.") == "ends here."
