{#
brainlearn's state update template (brainlearn.cppcode.FastCodeObject): Brian2's
stateupdate.cpp with ``#pragma GCC ivdep`` on the loop over cells when it runs on one thread.
A state update reads and writes only the cell's own entries, so the iterations are independent;
the pragma spares the compiler the run-time aliasing checks it gives up on for groups with many
state variables (the loop then stays scalar).
#}
{# USES_VARIABLES { N } #}
{# ALLOWS_SCALAR_WRITE #}
{% extends 'common_group.cpp' %}

{% block maincode %}
    //// MAIN CODE ////////////
    // scalar code
    const size_t _vectorisation_idx = -1;
    {{scalar_code|autoindent}}

    const int _N = {{constant_or_scalar('N', variables['N'])}};
    {% if prefs.devices.cpp_standalone.openmp_threads > 0 %}
    {{openmp_pragma('parallel-static')}}
    {% else %}
    #pragma GCC ivdep
    {% endif %}
    for(int _idx=0; _idx<_N; _idx++)
    {
        // vector code
        const size_t _vectorisation_idx = _idx;
        {{vector_code|autoindent}}
    }
{% endblock %}
