{#
brainlearn's template for ``x *= f_post`` on the synapses of a pathway, run regularly
(brainlearn.cppcode.scale_by_post, ScaleByPostCodeObject): Brian2's loop over every synapse
multiplies each synaptic ``x`` by its target's ``f``. This one skips the targets whose ``f``
is exactly 1 (``x * 1.0 == x`` for every double, subnormals included: the program does not
flush them to zero) and visits the synapses of the other targets through a list of the
synapses by target, built on the first call (and again when the number of synapses
changed), each target's synapses in index order. Every synapse that Brian2's loop changes
gets the same product, so the results are Brian2's bit for bit. Diehl & Cook's
normalisation (``w *= norm_factor_post`` on 784 x N input synapses every presentation)
then touches the synapses of the few cells whose input weights changed since the last one
instead of streaming all of them (at N=6400, 5 M synapses: 100 MB) through the cache.
With OpenMP threads, or when the code reads other than one post-synaptic variable, it runs
brainlearn's plain state update loop (brainlearn/cpp/templates/stateupdate.cpp).
#}
{# USES_VARIABLES { N, _synaptic_post, N_post } #}
{% extends 'common_group.cpp' %}

{% set _factors = [] %}
{% for var in variables %}
    {% if variable_indices[var] == '_postsynaptic_idx' %}
        {% if _factors.append(var) %}{% endif %}
    {% endif %}
{% endfor %}

{% block extra_headers %}
{{ super() }}
#include<vector>
{% endblock %}

{% block maincode %}
    //// MAIN CODE ////////////
    // scalar code
    const size_t _vectorisation_idx = -1;
    {{scalar_code|autoindent}}

    const int _N = {{constant_or_scalar('N', variables['N'])}};
    {% if _factors|length == 1 and prefs.devices.cpp_standalone.openmp_threads == 0 %}
    // brainlearn: the synapses of the targets whose factor is not exactly 1
    const double * __restrict _factor = {{brainlearn_pointer(variables[_factors[0]])}};
    const int32_t * __restrict _targets = {{_synaptic_post}};
    const int _n_post = {{constant_or_scalar('N_post', variables['N_post'])}};
    static std::vector<int32_t> _by_target;  // synapse indices, by target, then index
    static std::vector<int64_t> _first;      // _by_target[_first[j]:_first[j+1]]: target j's
    if ((int64_t)_by_target.size() != _N || (int)_first.size() != _n_post + 1)
    {
        _first.assign(_n_post + 1, 0);
        for (int _s = 0; _s < _N; _s++)
            _first[_targets[_s] + 1]++;
        for (int _j = 0; _j < _n_post; _j++)
            _first[_j + 1] += _first[_j];
        std::vector<int64_t> _fill(_first.begin(), _first.end() - 1);
        _by_target.resize(_N);
        for (int _s = 0; _s < _N; _s++)
            _by_target[_fill[_targets[_s]]++] = _s;
    }
    for (int _j = 0; _j < _n_post; _j++)
    {
        if (_factor[_j] == 1.0)
            continue;
        for (int64_t _k = _first[_j]; _k < _first[_j + 1]; _k++)
        {
            const int _idx = _by_target[_k];
            // vector code
            const size_t _vectorisation_idx = _idx;
            {{vector_code|autoindent}}
        }
    }
    {% else %}
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
    {% endif %}
{% endblock %}
