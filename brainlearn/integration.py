"""Integration methods for conductance-based cells that Brian2 does not ship.

Brian2's ``exponential_euler`` integrates a conditionally linear variable,
``dx/dt = A x + B`` with ``A`` and ``B`` depending on the other variables, exactly for
frozen ``A`` and ``B``: ``x' = -B/A + (x + B/A) exp(A dt)``. For a conductance-based membrane
``A = -(1 + ge + gi) / tau_m`` changes every step, so every cell pays one ``exp`` per step;
in a large Diehl & Cook network that doubles the cost of a presentation.

``implicit_euler`` is the linearly implicit (backward) Euler step of the same system,

    x' = (x + dt B) / (1 - dt A),

one division instead of an ``exp``. Like exponential Euler it is stable for every ``A <= 0``
(it relaxes towards ``-B/A`` monotonically however large the conductances are, where forward
Euler oscillates once ``-A dt > 2``), and it agrees with exponential Euler to second order in
``A dt``: ``1 / (1 - A dt) = exp(A dt) + O((A dt)^2)``. A variable whose ``A`` does not depend
on the state (a synaptic trace or conductance that decays at a fixed rate) is integrated
exactly, ``x' = x exp(A dt)``, as ``exponential_euler`` does; Brian2 hoists that factor out of
the loop, so it costs one multiply.

Importing this module registers the method with Brian2: ``NeuronGroup(..., method=
"implicit_euler")``.

References
----------
Hairer, E. & Wanner, G. (1996). *Solving Ordinary Differential Equations II*, Sect. IV.9
(linearly implicit methods). Springer.
"""

from __future__ import annotations

import sympy as sp
from brian2 import StateUpdateMethod
from brian2.parsing.sympytools import sympy_to_str
from brian2.stateupdaters.base import UnsupportedEquationsException, extract_method_options
from brian2.stateupdaters.exponential_euler import get_conditionally_linear_system

__all__ = ["ImplicitEulerStateUpdater", "implicit_euler", "METHOD_NAME"]

#: the name under which the method is registered with Brian2
METHOD_NAME = "implicit_euler"


class ImplicitEulerStateUpdater(StateUpdateMethod):
    """Linearly implicit Euler for conditionally linear equations (see the module docstring).

    For each variable with ``dx/dt = A x + B`` (``A``, ``B`` free of ``x``):

    * ``A == 0``: forward Euler, ``x' = x + dt B``;
    * ``A`` free of the state variables: exact, ``x' = -B/A + (x + B/A) exp(A dt)``;
    * otherwise: ``x' = (x + dt B) / (1 - dt A)``.

    All right-hand sides are evaluated at the start of the step (the variables are updated
    together, as in Brian2's own methods).
    """

    def __call__(self, equations, variables=None, method_options=None) -> str:
        extract_method_options(method_options, {})
        if equations.is_stochastic:
            raise UnsupportedEquationsException(
                "implicit_euler cannot solve stochastic equations")
        try:
            system = get_conditionally_linear_system(equations, variables)
        except ValueError as err:
            raise UnsupportedEquationsException(
                "implicit_euler can only solve conditionally linear systems") from err
        state = set(equations.diff_eq_names)
        dt = sp.Symbol("dt")
        code = []
        for var, (A, B) in system.items():
            x = sp.Symbol(var)
            if A == 0:
                update = x + dt * B
            elif {symbol.name for symbol in A.free_symbols} & state:
                update = (x + dt * B) / (1 - dt * A)
            elif B != 0:
                code.append(f"_BA_{var} = {sympy_to_str(B / A)}")
                BA = sp.Symbol(f"_BA_{var}")
                update = (x + BA) * sp.exp(A * dt) - BA
            else:
                update = x * sp.exp(A * dt)
            code.append(f"_{var} = {sympy_to_str(update)}")
        code += [f"{var} = _{var}" for var in system]
        return "\n".join(code)


#: the registered instance
implicit_euler = ImplicitEulerStateUpdater()

if METHOD_NAME not in StateUpdateMethod.stateupdaters:
    StateUpdateMethod.register(METHOD_NAME, implicit_euler)
