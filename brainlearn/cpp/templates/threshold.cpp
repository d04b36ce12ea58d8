{#
brainlearn's threshold template (brainlearn.cppcode.FastCodeObject): Brian2's threshold.cpp in
two passes. The first evaluates the threshold condition of every cell into a buffer (no
branches, so the compiler vectorises it), the second collects the cells that crossed it, in
index order (skipping eight cells at a time where none did), and marks them refractory exactly
as Brian2's loop does. Per cell and step at N=6400: 0.29 against Brian2's 0.94 ns
(benchmarks/cpp/cells.cpp); the two passes without the skip cost 1.15 ns.

With brainlearn_one_spike (brainlearn.cppcode.OneSpikeCodeObject) the spike event keeps one of
the cells that crossed, chosen uniformly at random with Brian2's random generator, as
BindsNET's DiehlAndCookNodes(one_spike=True): every crossing cell is marked refractory above,
only the chosen one emits. Other events of the group (a custom event's threshold) are unchanged.
#}
{# USES_VARIABLES { N } #}
{% extends 'common_group.cpp' %}
{% block maincode %}
    //// MAIN CODE ////////////
    // scalar code
    const int _vectorisation_idx = -1;
    {{scalar_code|autoindent}}

    {% set _eventspace = get_array_name(eventspace_variable) %}

    long _count = 0;
    static std::vector<char> _brainlearn_conditions;
    if (_brainlearn_conditions.size() < (size_t)N)
        _brainlearn_conditions.resize(N);
    char * __restrict _crossed = &_brainlearn_conditions[0];
    #pragma GCC ivdep
    for(size_t _idx=0; _idx<N; _idx++)
    {
        const size_t _vectorisation_idx = _idx;
        {{vector_code|autoindent}}
        _crossed[_idx] = _cond;
    }
    for(size_t _base=0; _base<N; _base+=8)
    {
        // eight cells at a time: most steps, no cell of a block crossed
        if (_base + 8 <= N)
        {
            uint64_t _block;
            __builtin_memcpy(&_block, _crossed + _base, 8);
            if (!_block)
                continue;
        }
        const size_t _end = _base + 8 <= N ? _base + 8 : N;
        for(size_t _idx=_base; _idx<_end; _idx++)
        {
            if(_crossed[_idx]) {
                {{_eventspace}}[_count++] = _idx;
                {% if _uses_refractory %}
                {{not_refractory}}[_idx] = false;
                {{lastspike}}[_idx] = {{t}};
                {% endif %}
            }
        }
    }
    {% if brainlearn_one_spike is defined and eventspace_variable.name == '_spikespace' %}
    if (_count > 1)
    {
        // one of the _count crossing cells, uniformly (all of them are refractory now)
        long _pick = (long)(brian::_random_generators[0].rand() * _count);
        if (_pick >= _count)
            _pick = _count - 1;
        {{_eventspace}}[0] = {{_eventspace}}[_pick];
        _count = 1;
    }
    {% endif %}
    {{_eventspace}}[N] = _count;
{% endblock %}

{% block after_code %}
{% set _eventspace = get_array_name(eventspace_variable) %}
{{_eventspace}}[N] = 0;  // Note that this is not an off-by-1-error: the array has N+1 elements
{% endblock %}
