// Per-code-object timing of the cells' generated loops: Brian2's (stock) against brainlearn's
// templates (brainlearn/cpp/templates), as generated for Diehl & Cook at N=6400, interleaved in
// one process (best of 30 x 2000 steps, CPU time), with a bit-for-bit check of the state update.
//     g++ -O3 -march=native -ffast-math -fno-finite-math-only -std=c++11 -w \
//         benchmarks/cpp/cells.cpp -o cells && ./cells
#include <vector>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <cmath>
#include <ctime>
#include <random>
#include <algorithm>
static inline int64_t _timestep_i(double t, double dt) { return (int64_t)((t + 1e-3*dt)/dt); }
static inline double _timestep_d(double t, double dt) { return trunc((t + 1e-3*dt)/dt); }
const int N = 6400;
double ge[N], gi[N], lastspike[N], v[N], theta[N]; char notref[N]; int32_t spikespace[N+1];
double ge2[N], gi2[N], v2[N]; char notref2[N];
__attribute__((noinline)) void su_stock(double t, double dt) {
    const int64_t _lio_1 = _timestep_i(0.002, dt);
    const double _lio_2 = exp(-dt/0.001), _lio_3 = exp(-dt/0.002), _lio_4 = 0.0/0.01, _lio_5=-0.085/0.01, _lio_6=-0.06/0.01, _lio_7=-dt, _lio_8=1.0/0.01, _lio_9=0.0-_lio_8;
    double* __restrict pge=ge; double* __restrict pgi=gi; double* __restrict pls=lastspike; char* __restrict pnr=notref; double* __restrict pv=v;
    for (int _idx=0; _idx<N; _idx++) {
        double g_e=pge[_idx], g_i=pgi[_idx]; const double ls=pls[_idx]; char nr=pnr[_idx]; double vv=pv[_idx];
        nr = _timestep_i(t - ls, dt) >= _lio_1;
        const double _ge=_lio_2*g_e, _gi=_lio_3*g_i; double _v;
        if(!nr) _v=vv; else _v = 1.0f*((dt*(_lio_6+((_lio_4*g_e)+(_lio_5*g_i))))+vv)/(1.0+(_lio_7*((_lio_9+(_lio_8*(-g_e)))-(_lio_8*g_i))));
        g_e=_ge; g_i=_gi; if(nr) vv=_v;
        pge[_idx]=g_e; pgi[_idx]=g_i; pnr[_idx]=nr; pv[_idx]=vv; }
}
__attribute__((noinline)) void su_new(double t, double dt) {
    const int64_t _lio_1 = _timestep_d(0.002, dt);
    const double _lio_2 = exp(-dt/0.001), _lio_3 = exp(-dt/0.002), _lio_4 = 0.0/0.01, _lio_5=-0.085/0.01, _lio_6=-0.06/0.01, _lio_7=-dt, _lio_8=1.0/0.01, _lio_9=0.0-_lio_8;
    double* __restrict pge=ge2; double* __restrict pgi=gi2; double* __restrict pls=lastspike; char* __restrict pnr=notref2; double* __restrict pv=v2;
    #pragma GCC ivdep
    for (int _idx=0; _idx<N; _idx++) {
        double g_e=pge[_idx], g_i=pgi[_idx]; const double ls=pls[_idx]; char nr=pnr[_idx]; double vv=pv[_idx];
        nr = _timestep_d(t - ls, dt) >= _lio_1;
        const double _ge=_lio_2*g_e, _gi=_lio_3*g_i; double _v;
        if(!nr) _v=vv; else _v = 1.0f*((dt*(_lio_6+((_lio_4*g_e)+(_lio_5*g_i))))+vv)/(1.0+(_lio_7*((_lio_9+(_lio_8*(-g_e)))-(_lio_8*g_i))));
        g_e=_ge; g_i=_gi; if(nr) vv=_v;
        pge[_idx]=g_e; pgi[_idx]=g_i; pnr[_idx]=nr; pv[_idx]=vv; }
}
__attribute__((noinline)) long th_stock(double t) {
    const double _lio_1 = -0.052 - 0.020; long _count=0;
    for (size_t _idx=0; _idx<N; _idx++) {
        const char nr=notref[_idx]; const double th=theta[_idx]; const double vv=v[_idx]; char _cond;
        if(!nr) _cond=(vv>(_lio_1+th))&&false; else _cond=(vv>(_lio_1+th))&&true;
        if(_cond){ spikespace[_count++]=_idx; notref[_idx]=false; lastspike[_idx]=t; } }
    spikespace[N]=_count; return _count;
}
static char crossed_buf[N];
__attribute__((noinline)) long th_new(double t, bool words) {
    const double _lio_1 = -0.052 - 0.020; long _count=0; char* __restrict cr=crossed_buf;
    #pragma GCC ivdep
    for (size_t _idx=0; _idx<N; _idx++) {
        const char nr=notref[_idx]; const double th=theta[_idx]; const double vv=v[_idx]; char _cond;
        if(!nr) _cond=(vv>(_lio_1+th))&&false; else _cond=(vv>(_lio_1+th))&&true;
        cr[_idx]=_cond; }
    if (words) {
      for (size_t _base=0; _base<N; _base+=8) {
        uint64_t w=0; if (_base+8<=N) { memcpy(&w, cr+_base, 8); if(!w) continue; }
        const size_t _end = std::min((size_t)N, _base+8);
        for (size_t _idx=_base; _idx<_end; _idx++) if(cr[_idx]){ spikespace[_count++]=_idx; notref[_idx]=false; lastspike[_idx]=t; } }
    } else {
      for (size_t _idx=0; _idx<N; _idx++) if(cr[_idx]){ spikespace[_count++]=_idx; notref[_idx]=false; lastspike[_idx]=t; }
    }
    spikespace[N]=_count; return _count;
}
int main() {
    std::mt19937 rng(3); std::uniform_real_distribution<double> U(0,1);
    for (int i=0;i<N;i++){ ge[i]=ge2[i]=U(rng)<0.1?U(rng):0; gi[i]=gi2[i]=U(rng)<0.1?U(rng)*5:0; lastspike[i]=U(rng)<0.5?-1e4:U(rng)*0.01; v[i]=v2[i]=-0.065+0.01*U(rng); theta[i]=0.02+0.001*U(rng); notref[i]=notref2[i]=1; }
    double best[5]={1e9,1e9,1e9,1e9,1e9}; const double dt=0.0005; long sink=0;
    for (int rep=0; rep<30; rep++) {
        for (int k=0;k<5;k++) {
            std::clock_t c0=std::clock();
            for (int s=0;s<2000;s++) { double t=0.01+s*dt;
                if(k==0) su_stock(t,dt); else if(k==1) su_new(t,dt); else if(k==2) sink+=th_stock(t); else if (k==3) sink+=th_new(t,false); else sink+=th_new(t,true); }
            double ns = 1e9*(double)(std::clock()-c0)/CLOCKS_PER_SEC/2000/N; best[k]=std::min(best[k],ns);
        }
    }
    bool same = memcmp(v,v2,sizeof v)==0 && memcmp(ge,ge2,sizeof ge)==0 && memcmp(notref,notref2,sizeof notref)==0;
    printf("ns per cell and step (best of 30 x 2000 steps, N=6400):\n state update inh: stock %.3f  new %.3f  (%.2fx)  same bits: %d\n threshold exc: stock %.3f  new %.3f (%.2fx)  new+word-skip %.3f (%.2fx)  [%ld]\n",
        best[0],best[1],best[0]/best[1],same,best[2],best[3],best[2]/best[3],best[4],best[2]/best[4],sink%7);
}
